"""Building a model from nanoBragg-style arguments."""

from typing import Optional, Sequence

import torch

from torch_sim.config.raw_arguments import DEFAULT_MEMORY_BUDGET_MB
from torch_sim.config.resolve import resolve_arguments
from torch_sim.modules.simulator import Simulator


def from_nanobragg_args(argv: Sequence[str], dtype: torch.dtype = torch.float64, device: Optional[torch.device] = None,
                        memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB, use_fdump: bool = False,
                        compile: Optional[bool] = None) -> Simulator:
    """A :class:`Simulator` from a nanoBragg command line (the command line's own parser).

    ``forward()`` returns the float image [slow, fast] (what ``-floatfile`` holds);
    ``model.params`` maps parameter names to leaf tensors in command-line units.
    torch_sim's ``-dtype``/``-device``/``-memory_mb``/``-compile`` flags are
    overridden by the arguments here (``compile``: torch.compile'd hot loop; None:
    automatic, for large renders). ``use_fdump`` reads ``Fdump.bin`` when no ``-hkl`` is given,
    as the C program does (off by default: a library call should not depend on
    files left in the working folder).
    """
    config, _ = resolve_arguments(list(argv), use_fdump=use_fdump)
    return Simulator(config, dtype=dtype, device=device, memory_budget_mb=memory_budget_mb, compile=compile)
