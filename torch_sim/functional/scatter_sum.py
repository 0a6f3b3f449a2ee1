"""Sums of values into bins: the gradient of a table lookup (structure factors read per evaluation).

torch's ``index_add`` on CPU adds one value at a time on one thread; ``scatter_sum.cpp`` gives each thread a
part of the entries to turn into runs of equal indices, summed in float64 in a register, and adds the few runs
into the bins on one thread after. It is built with torch's C++ extension loader the first time it is asked
for (a C++ compiler and ninja are needed; the build is kept under torch's extension root,
``TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``) and used by the compiled path on CPU. Elsewhere,
or where it cannot be built (one warning says why), the sum is ``index_add`` into interleaved copies.
"""

import functools
import os
import sys
import time
import warnings
from pathlib import Path

import torch

#: The fallback scatters into this many interleaved copies of the table, then sums them: neighbouring entries
#: mostly fall in the same bin, and with one copy every addition would wait for the last.
_INTERLEAVED_COPIES = 4

_SOURCE = Path(__file__).with_suffix(".cpp")

#: A build takes about 30 s; torch's build lock older than this was left by a build that was killed, and torch
#: would wait for it forever.
_STALE_LOCK_S = 600.0


def _build_directory() -> Path:
    """Where the kernel is built: under torch's extension root (``TORCH_EXTENSIONS_DIR`` if set), one folder per
    Python and torch version."""
    from torch.utils.cpp_extension import get_default_build_root

    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    tag = f"py{sys.version_info.major}{sys.version_info.minor}_torch{torch.__version__}"
    directory = Path(root) / f"torch_sim_scatter_sum_{tag}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _remove_stale_lock(directory: Path) -> None:
    lock = directory / "lock"
    try:
        if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
            lock.unlink()
            warnings.warn(f"removed a stale build lock left by a killed build: {lock}", RuntimeWarning, stacklevel=4)
    except FileNotFoundError:
        pass


@functools.cache
def _native_kernel():
    """The built C++ function, or None (with a warning, once) where it cannot be built."""
    try:
        from torch.utils.cpp_extension import load

        directory = _build_directory()
        _remove_stale_lock(directory)
        module = load("torch_sim_scatter_sum", [str(_SOURCE)], extra_cflags=["-O3", "-fopenmp"],
                      extra_ldflags=["-fopenmp"], build_directory=str(directory), verbose=False)
    except Exception as error:  # no compiler or ninja, a failed build: the fallback gives the same sums
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        warnings.warn(f"the native table-gradient scatter could not be built ({type(error).__name__}: "
                      f"{first_line}); using index_add", RuntimeWarning, stacklevel=3)
        return None
    return module.scatter_sum


def _interleaved_index_add(index: torch.Tensor, values: torch.Tensor, bins: int) -> torch.Tensor:
    copy = torch.arange(index.numel(), dtype=index.dtype, device=index.device) % _INTERLEAVED_COPIES
    copies = values.new_zeros(_INTERLEAVED_COPIES * bins).index_add(0, index + copy * bins, values)
    return copies.reshape(_INTERLEAVED_COPIES, bins).sum(0)


def scatter_sum(index: torch.Tensor, values: torch.Tensor, bins: int, native: bool = False) -> torch.Tensor:
    """out [bins] with out[b] = sum of values[i] over index[i] == b, for index (int32 or int64) and values [n].

    ``native``: on CPU with gradients off, the C++ kernel on every thread where it can be built (sums in float64,
    rounded once to the values' dtype; the result depends on the thread count, not on scheduling). Otherwise
    ``index_add``, which autograd can differentiate.
    """
    if native and values.device.type == "cpu" and not torch.is_grad_enabled():
        kernel = _native_kernel()
        if kernel is not None:
            return kernel(index, values, bins)
    return _interleaved_index_add(index, values, bins)
