"""Refined parameters as unconstrained, O(1)-scaled internal variables.

Each refined parameter ``v`` (command-line units) is a smooth function of one
internal variable ``u`` with ``u = 0`` at the start value and ``dv/du = scale``
there, so one unit of ``u`` is one typical step of that parameter and a single
learning rate (Adam) or the identity initial Hessian (L-BFGS) suits them all:

- no bounds: ``v = start + scale * u``;
- ``[lower, upper]``: ``v = lower + (upper - lower) * sigmoid(z0 + c u)``;
- ``[lower, inf)``: ``v = lower + (start - lower) * softplus(c u) / log 2``;
- ``(-inf, upper]``: ``v = upper - (upper - start) * softplus(-c u) / log 2``;

with ``z0`` and ``c`` chosen so that ``v(0) = start`` and ``v'(0) = scale``.
Every ``u`` is valid (the value approaches a bound only as ``u`` goes to
infinity, and a one-sided value grows linearly, never overflowing), so the
optimizer needs no constraints.
"""

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import torch

from torch_sim.errors import InputError

#: Typical step in command-line units: Angstrom, degrees, mm, mrad, percent, Kahn factor, photons/pixel.
ABSOLUTE_SCALES = {
    **dict.fromkeys(("cell_a", "cell_b", "cell_c"), 0.01),
    **dict.fromkeys(("cell_alpha", "cell_beta", "cell_gamma", "misset_x", "misset_y", "misset_z", "phi_start",
                     "osc_range", "detector_rotx", "detector_roty", "detector_rotz", "twotheta"), 0.01),
    **dict.fromkeys(("distance", "close_distance", "beam_x", "beam_y"), 0.01),
    "pixel_size": 1e-5,
    "wavelength": 1e-5,
    "polarization": 0.01,
    "hdivrange": 0.01,
    "vdivrange": 0.01,
    "dispersion": 0.01,
}
#: Typical step as a fraction of the start value, with the absolute step used when the start is 0.
RELATIVE_SCALES = {
    **dict.fromkeys(("N_a", "N_b", "N_c"), (0.01, 0.01)),
    "mosaic_spread": (0.01, 0.001),
    "fluence": (0.01, 1e20),
    "detector_thickness": (0.01, 0.1),
    "detector_abs_depth": (0.01, 0.1),
    "water_size": (0.01, 0.1),
    "default_F": (0.01, 0.1),
    "background": (0.01, 0.01),
    "background_scale": (0.01, 0.01),
}


#: Open ranges outside which a parameter means nothing physical (or, for N and the mosaic
#: spread, gives the same image as its negative): refined values always stay inside them,
#: whatever bounds the user gives.
PHYSICAL_RANGES = {
    **dict.fromkeys(("cell_a", "cell_b", "cell_c", "N_a", "N_b", "N_c", "mosaic_spread", "wavelength", "pixel_size",
                     "fluence"), (0.0, math.inf)),
    **dict.fromkeys(("cell_alpha", "cell_beta", "cell_gamma"), (0.0, 180.0)),
}

_LOG2 = math.log(2.0)


def _inverse_softplus(y: float) -> float:
    """x with log(1 + exp(x)) = y > 0."""
    return y + math.log(-math.expm1(-y))


def default_scale(name: str, start: float) -> float:
    """The typical step of parameter ``name`` starting at ``start`` (command-line units)."""
    if name in ABSOLUTE_SCALES:
        return ABSOLUTE_SCALES[name]
    fraction, floor = RELATIVE_SCALES.get(name, (0.01, 1e-3))
    return abs(start) * fraction if start != 0.0 else floor


@dataclass(frozen=True)
class ParameterTransform:
    """One refined parameter: ``value = to_user(u)`` with ``to_user(0) = start`` and slope ``scale`` at 0."""

    name: str
    start: float
    scale: float
    lower: float = -math.inf
    upper: float = math.inf

    @property
    def _slope(self) -> float:
        """The factor ``c`` of ``u`` inside the sigmoid or exponential."""
        if math.isfinite(self.lower) and math.isfinite(self.upper):
            p = (self.start - self.lower) / (self.upper - self.lower)
            return self.scale / ((self.upper - self.lower) * p * (1.0 - p))
        if math.isfinite(self.lower):
            return 2.0 * _LOG2 * self.scale / (self.start - self.lower)
        if math.isfinite(self.upper):
            return 2.0 * _LOG2 * self.scale / (self.upper - self.start)
        return self.scale

    def to_user(self, u: torch.Tensor) -> torch.Tensor:
        """The parameter value (command-line units) of internal variable ``u`` (scalar tensor)."""
        lower, upper, c = self.lower, self.upper, self._slope
        if math.isfinite(lower) and math.isfinite(upper):
            p = (self.start - lower) / (upper - lower)
            return lower + (upper - lower) * torch.sigmoid(math.log(p / (1.0 - p)) + c * u)
        if math.isfinite(lower):
            return lower + (self.start - lower) / _LOG2 * torch.nn.functional.softplus(c * u)
        if math.isfinite(upper):
            return upper - (upper - self.start) / _LOG2 * torch.nn.functional.softplus(-c * u)
        return self.start + c * u

    def to_internal(self, value: float) -> float:
        """The internal variable of a value strictly inside the bounds (inverse of ``to_user``)."""
        lower, upper, c = self.lower, self.upper, self._slope
        if math.isfinite(lower) and math.isfinite(upper):
            logit = lambda x: math.log((x - lower) / (upper - x))
            return (logit(value) - logit(self.start)) / c
        if math.isfinite(lower):
            return _inverse_softplus(_LOG2 * (value - lower) / (self.start - lower)) / c
        if math.isfinite(upper):
            return -_inverse_softplus(_LOG2 * (upper - value) / (upper - self.start)) / c
        return (value - self.start) / c


def parse_bounds(name: str, bound) -> tuple[float, float]:
    """``(lower, upper)`` from a pair whose entries may be None (unbounded); InputError if malformed."""
    try:
        lower, upper = bound
    except (TypeError, ValueError):
        raise InputError(f"bounds for {name} must be a pair (min, max), got {bound!r}") from None
    lower = -math.inf if lower is None else float(lower)
    upper = math.inf if upper is None else float(upper)
    if math.isnan(lower) or math.isnan(upper) or not lower < upper:
        raise InputError(f"bounds for {name} must satisfy min < max, got [{lower:g}, {upper:g}]")
    return lower, upper


def effective_bounds(name: str, bound=None) -> tuple[float, float]:
    """The user's ``bound`` (a pair, or None) intersected with the parameter's physical range."""
    lower, upper = parse_bounds(name, bound) if bound is not None else (-math.inf, math.inf)
    physical_lower, physical_upper = PHYSICAL_RANGES.get(name, (-math.inf, math.inf))
    lower, upper = max(lower, physical_lower), min(upper, physical_upper)
    if not lower < upper:
        raise InputError(f"bounds for {name} lie outside its physical range ({physical_lower:g}, {physical_upper:g})")
    return lower, upper


class Parameterization:
    """Maps internal variables ``u`` [k] to refined values [k] (command-line units) and back.

    ``start``: value of each name; ``scales``: typical steps overriding
    :func:`default_scale`; ``bounds``: ``{name: (min, max)}`` (None for an open
    side), always narrowed to :data:`PHYSICAL_RANGES`. Raises InputError for a NaN
    start, a non-positive scale, or bounds that do not contain the start strictly inside.
    """

    def __init__(self, names: Sequence[str], start: Mapping[str, float],
                 scales: Optional[Mapping[str, float]] = None, bounds: Optional[Mapping[str, tuple]] = None):
        scales, bounds = dict(scales or {}), dict(bounds or {})
        self.transforms = []
        for name in names:
            if name not in start:
                raise InputError(f"unknown parameter {name!r}: no start value")
            value = float(start[name])
            if not math.isfinite(value):
                raise InputError(f"start value of {name} is not finite ({value})")
            scale = float(scales.get(name, default_scale(name, value)))
            if not (math.isfinite(scale) and scale > 0.0):
                raise InputError(f"scale of {name} must be a positive number, got {scale!r}")
            lower, upper = effective_bounds(name, bounds.get(name))
            if not lower < value < upper:
                kind = "bounds" if name in bounds else "physical range"
                raise InputError(f"{kind} of {name} ({lower:g}, {upper:g}) exclude the start value {value:g}")
            self.transforms.append(ParameterTransform(name, value, scale, lower, upper))

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.transforms]

    def to_user(self, u: torch.Tensor) -> torch.Tensor:
        """Values [k] (command-line units) of internal variables ``u`` [k]; differentiable."""
        return torch.stack([t.to_user(u[i]) for i, t in enumerate(self.transforms)])

    def slopes(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """``dv/du`` at ``u = 0`` [k]: the scales."""
        return torch.tensor([t.scale for t in self.transforms], dtype=dtype, device=device)

    def to_internal(self, values: Sequence[float], dtype=torch.float64, device=None) -> torch.Tensor:
        """Internal variables [k] of values [k] strictly inside their bounds."""
        return torch.tensor([t.to_internal(float(v)) for t, v in zip(self.transforms, values)], dtype=dtype,
                            device=device)
