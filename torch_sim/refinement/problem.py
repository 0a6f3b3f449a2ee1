"""A refinement problem: the validated inputs and the loss as a function of the refined values.

Everything a run needs is checked here, before any rendering: the observed
image (size, finite, not empty), the parameter names, mask, weights, bounds,
restraints and background; a bad input raises InputError with one line. The
loss is evaluated on the refined pixels only (the model's ROI and mask and the
user's mask, and weight > 0), which are the only pixels rendered.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from torch_sim.errors import InputError
from torch_sim.modules.simulator import Simulator
from torch_sim.refinement.losses import LOSSES, MIN_EXPECTED, photon_counts
from torch_sim.refinement.parameterization import Parameterization
from torch_sim.refinement.pixel_model import PixelModel
from torch_sim.refinement.restraints import GaussianRestraints

#: Refinable names that belong to the loss, not the model: the constant background level
#: (photons/pixel, with a number as background) and the factor of a background image.
LOSS_PARAMETERS = ("background", "background_scale")


def _image(value, name: str, shape: tuple, dtype, device) -> torch.Tensor:
    """A [slow, fast] image as a tensor of ``dtype``; InputError if it is not 2-D of ``shape``."""
    if isinstance(value, torch.Tensor):
        array = value.detach().to(device=device, dtype=dtype)
    else:
        try:
            array = torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
        except (TypeError, ValueError):
            raise InputError(f"{name} is not a numeric image") from None
    if tuple(array.shape) != tuple(shape):
        got = "x".join(str(n) for n in array.shape) or "a scalar"
        raise InputError(f"{name} is {got} pixels but the model renders {shape[0]}x{shape[1]} (slow x fast)")
    return array


def _check_finite(image: torch.Tensor, name: str) -> None:
    bad = int((~torch.isfinite(image)).sum())
    if bad:
        raise InputError(f"{name} has {bad} NaN or infinite pixel(s)")


@dataclass
class RefinementProblem:
    """Refined names, start values [K] (command-line units) and the data of the refined pixels [P]."""

    model: Simulator
    pixel_model: PixelModel
    names: list
    start: torch.Tensor
    counts: torch.Tensor
    background: torch.Tensor
    weights: Optional[torch.Tensor]
    loss_name: str
    restraints: GaussianRestraints
    scales: dict
    bounds: dict
    #: The whole observed image [slow, fast], the ADC offset and the fixed background image [slow, fast].
    observed_image: torch.Tensor
    adc_offset: float
    background_image: torch.Tensor

    @property
    def active(self) -> torch.Tensor:
        """Flat indices (slow * fpixels + fast) of the refined pixels [P]."""
        return self.pixel_model.pixel_index

    @property
    def model_names(self) -> list:
        return [name for name in self.names if name not in LOSS_PARAMETERS]

    def subset(self, keep: torch.Tensor) -> "RefinementProblem":
        """The same problem on the refined pixels where ``keep`` [P] is True."""
        return dataclasses.replace(
            self, pixel_model=PixelModel(self.model, self.active[keep]), counts=self.counts[keep],
            background=self.background if self.background.dim() == 0 else self.background[keep],
            weights=None if self.weights is None else self.weights[keep])

    def parameterization(self, names: Sequence[str], values: torch.Tensor) -> Parameterization:
        """Internal variables of ``names`` anchored at ``values`` [K] (the current refined values)."""
        current = {name: float(values[self.names.index(name)]) for name in names}
        return Parameterization(names, current, self.scales, {n: b for n, b in self.bounds.items() if n in names})

    def expected(self, values: torch.Tensor) -> torch.Tensor:
        """Model photons [P] (without background) at refined values [K]."""
        model_values = {name: values[self.names.index(name)] for name in self.model_names}
        return self.pixel_model.render(model_values)

    def background_of(self, values: torch.Tensor) -> torch.Tensor:
        """Background photons (scalar or [P]) at refined values [K]."""
        if "background" in self.names:
            return values[self.names.index("background")]
        if "background_scale" in self.names:
            return values[self.names.index("background_scale")] * self.background
        return self.background

    def mean_counts(self, values: torch.Tensor) -> torch.Tensor:
        """Expected photons including background, mu [P]."""
        return self.expected(values) + self.background_of(values)

    def information_weights(self, values: torch.Tensor) -> torch.Tensor:
        """Per-pixel weights W [P] of the Fisher information J^T W J: weights/mu (Poisson) or weights (least squares)."""
        with torch.no_grad():
            mu = self.mean_counts(values)
        weights = self.weights if self.weights is not None else torch.ones_like(mu)
        return weights / torch.clamp(mu, min=MIN_EXPECTED) if self.loss_name == "poisson" else weights

    def data_loss(self, values: torch.Tensor) -> torch.Tensor:
        return LOSSES[self.loss_name](self.expected(values), self.counts, self.background_of(values), None,
                                      self.weights)

    def total_loss(self, values: torch.Tensor) -> torch.Tensor:
        """Data loss plus restraints at refined values [K] (a scalar, differentiable)."""
        return self.data_loss(values) + self.restraints(values)


def check_parameter_names(model: Simulator, params: Sequence[str], scalar_background: bool) -> list:
    """The refined names, checked: known, scalar, unique; InputError naming the first bad one."""
    if isinstance(params, str) or not params:
        raise InputError("params must be a non-empty list of parameter names")
    names = list(params)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"parameter(s) listed twice: {', '.join(duplicates)}")
    available = model.params
    allowed_loss = ("background",) if scalar_background else ("background_scale",)
    for name in names:
        if name in allowed_loss:
            continue
        if name in LOSS_PARAMETERS:
            other = "a number" if name == "background" else "an image"
            raise InputError(f"{name} can be refined only with {other} as background")
        if name not in available:
            known = ", ".join(n for n in available if available[n].dim() == 0)
            raise InputError(f"unknown parameter {name!r}; this model has: {known}, {allowed_loss[0]}")
        if available[name].dim() != 0:
            raise InputError(f"{name} is not a scalar parameter; refine scalar parameters only")
    return names


def build_problem(model: Simulator, observed, params: Sequence[str], loss: str = "poisson", mask=None,
                  weights=None, bounds: Optional[Mapping] = None, restraints: Optional[Mapping] = None,
                  adc_offset: float = 0.0, background=0.0, scales: Optional[Mapping] = None) -> RefinementProblem:
    """Check every input and prepare the refined pixels' data; InputError (one line) on bad input."""
    if not isinstance(model, Simulator):
        raise InputError("model must be a torch_sim Simulator (torch_sim.from_nanobragg_args)")
    if loss not in LOSSES:
        raise InputError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if not math.isfinite(float(adc_offset)):
        raise InputError(f"ADC offset must be finite, got {adc_offset!r}")
    shape, dtype, device = model.config.detector.shape, model.dtype, model.pixel_index.device
    scalar_background = not (isinstance(background, (np.ndarray, torch.Tensor)) and np.ndim(background) > 0)
    names = check_parameter_names(model, params, scalar_background)

    observed = _image(observed, "observed image", shape, dtype, device)
    _check_finite(observed, "observed image")
    if not bool((observed != 0).any()):
        raise InputError("observed image is all zeros")
    if scalar_background:
        background_value = float(background)
        if not (math.isfinite(background_value) and background_value >= 0.0):
            raise InputError(f"background must be a finite number >= 0, got {background!r}")
        background_image = torch.full(shape, background_value, dtype=dtype, device=device)
    else:
        background_image = _image(background, "background image", shape, dtype, device)
        _check_finite(background_image, "background image")
        if bool((background_image < 0).any()):
            raise InputError("background image has negative pixels")

    keep = torch.zeros(shape[0] * shape[1], dtype=torch.bool, device=device)
    keep[model.pixel_index] = True
    if mask is not None:
        keep &= _image(mask, "mask", shape, dtype, device).reshape(-1) != 0
    weight_image = None
    if weights is not None:
        weight_image = _image(weights, "weights", shape, dtype, device)
        _check_finite(weight_image, "weights")
        if bool((weight_image < 0).any()):
            raise InputError("weights must be >= 0")
        keep &= weight_image.reshape(-1) > 0
    active = torch.nonzero(keep).reshape(-1)
    if active.numel() <= len(names):
        raise InputError(f"only {active.numel()} pixel(s) pass the mask and weights; at least {len(names) + 1} needed")
    counts = photon_counts(observed.reshape(-1)[active], float(adc_offset))
    if not bool((counts > 0).any()):
        raise InputError(f"no photons in the refined pixels after subtracting the ADC offset {float(adc_offset):g}")

    start_values = {name: float(model.params[name]) for name in names if name not in LOSS_PARAMETERS}
    start_values.update(background=float(background) if scalar_background else 0.0, background_scale=1.0)
    bounds, scales = dict(bounds or {}), dict(scales or {})
    for kind, given in (("bounds", bounds), ("scale", scales)):
        extra = [name for name in given if name not in names]
        if extra:
            raise InputError(f"{kind} given for {', '.join(extra)}, which is not refined")
    Parameterization(names, start_values, scales, bounds)
    start = torch.tensor([start_values[name] for name in names], dtype=dtype, device=device)
    return RefinementProblem(
        model=model, pixel_model=PixelModel(model, active), names=names, start=start, counts=counts,
        background=(torch.tensor(float(background), dtype=dtype, device=device) if scalar_background
                    else background_image.reshape(-1)[active]),
        weights=None if weight_image is None else weight_image.reshape(-1)[active],
        loss_name=loss, restraints=GaussianRestraints(names, restraints or {}, dtype, device),
        scales=scales, bounds=bounds, observed_image=observed, adc_offset=float(adc_offset),
        background_image=background_image,
    )
