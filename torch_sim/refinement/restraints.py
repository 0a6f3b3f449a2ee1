"""Gaussian restraints: prior knowledge of a parameter as a penalty added to the loss.

A restraint ``name: (centre, width)`` (command-line units) adds
``0.5 * ((value - centre) / width)^2``: the negative log of a Gaussian prior,
so that with the Poisson negative log-likelihood the total is a negative log
posterior and ``width`` is the prior standard deviation. Its Hessian,
``1 / width^2`` on the diagonal, enters the standard errors.
"""

import math
from typing import Mapping, Sequence

import torch
from torch import nn

from torch_sim.errors import InputError


def parse_restraints(restraints: Mapping[str, tuple], refined: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Checked ``{name: (centre, width)}``: finite centre, positive width, a refined parameter."""
    checked = {}
    for name, restraint in restraints.items():
        if name not in refined:
            raise InputError(f"restraint on {name}, which is not refined (refined: {', '.join(refined)})")
        try:
            centre, width = (float(x) for x in restraint)
        except (TypeError, ValueError):
            raise InputError(f"restraint on {name} must be a pair (centre, width), got {restraint!r}") from None
        if not (math.isfinite(centre) and math.isfinite(width) and width > 0.0):
            raise InputError(f"restraint on {name} needs a finite centre and a positive width, got ({centre:g}, {width:g})")
        checked[name] = (centre, width)
    return checked


def gaussian_restraints(values: torch.Tensor, centres: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """``0.5 * sum(((values - centres) / widths)^2)`` for values, centres, widths [r]; a scalar."""
    z = (values - centres) / widths
    return 0.5 * (z * z).sum()


class GaussianRestraints(nn.Module):
    """Restraints on some of the refined parameters: ``forward(values [k]) -> penalty``.

    ``names``: the refined parameters in the order of ``values``; ``restraints``:
    ``{name: (centre, width)}`` for a subset of them.
    """

    def __init__(self, names: Sequence[str], restraints: Mapping[str, tuple], dtype=torch.float64, device=None):
        super().__init__()
        checked = parse_restraints(restraints, names)
        self.names = list(checked)
        self.register_buffer("index", torch.tensor([list(names).index(n) for n in checked], dtype=torch.long,
                                                   device=device))
        self.register_buffer("centres", torch.tensor([c for c, _ in checked.values()], dtype=dtype, device=device))
        self.register_buffer("widths", torch.tensor([w for _, w in checked.values()], dtype=dtype, device=device))

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if not self.names:
            return torch.zeros((), dtype=values.dtype, device=values.device)
        return gaussian_restraints(values[self.index], self.centres, self.widths)

    def hessian_diagonal(self, size: int) -> torch.Tensor:
        """The penalty's Hessian with respect to all ``size`` values: ``1/width^2`` where restrained, [size]."""
        diagonal = torch.zeros(size, dtype=self.centres.dtype, device=self.centres.device)
        return diagonal.index_put((self.index,), 1.0 / self.widths**2)
