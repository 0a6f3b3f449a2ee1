"""Data losses: Poisson negative log-likelihood and least squares, with a pixel mask and weights.

Notation (every tensor the same shape, any shape: a full image [slow, fast] or
the refined pixels [P]):

- ``expected``: the model's photons per pixel (``model()``), without background;
- ``observed``: the detector values; ``counts = max(observed - adc_offset, 0)``
  are the photons (nanoBragg's noise images add an ADC offset of 40);
- ``background``: photons per pixel added to the model (a number or an image);
- ``mu = expected + background``, the expected photon count;
- ``mask``: True where a pixel enters the loss; ``weights``: >= 0 per pixel.

Poisson: ``sum w * (mu - n + n log(n / mu))`` over the mask, with ``n log(n/mu) = 0``
at ``n = 0``. This is the negative log-likelihood ``sum w (mu - n log mu + log n!)``
minus that of the saturated model (a constant of the data), i.e. half the Poisson
deviance: it is >= 0, about (number of pixels)/2 for a model that fits, and has the
same gradient and Hessian as the NLL. ``mu`` is kept >= ``MIN_EXPECTED`` so that a
pixel with counts where the model is 0 costs a large but finite amount.

Least squares: ``0.5 * sum w * (n - mu)^2`` over the mask (inverse variances as
weights make it a Gaussian negative log-likelihood).
"""

from typing import Optional, Union

import torch
from torch import nn

#: Smallest expected photon count used in the Poisson loss.
MIN_EXPECTED = 1e-10

Background = Union[float, torch.Tensor]


def photon_counts(observed: torch.Tensor, adc_offset: float = 0.0) -> torch.Tensor:
    """Photons per pixel of a detector image: ``observed - adc_offset``, negative values set to 0."""
    return torch.clamp(observed - adc_offset, min=0.0)


def _masked_sum(per_pixel: torch.Tensor, mask: Optional[torch.Tensor], weights: Optional[torch.Tensor]) -> torch.Tensor:
    if weights is not None:
        per_pixel = per_pixel * weights
    if mask is not None:
        per_pixel = torch.where(mask, per_pixel, torch.zeros_like(per_pixel))
    return per_pixel.sum()


def poisson_nll(expected: torch.Tensor, counts: torch.Tensor, background: Background = 0.0,
                mask: Optional[torch.Tensor] = None, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Poisson negative log-likelihood relative to the saturated model (half the deviance), a scalar.

    ``counts``: photons (ADC offset already removed, see :func:`photon_counts`).
    """
    mu = torch.clamp(expected + background, min=MIN_EXPECTED)
    positive = counts > 0
    safe_counts = torch.where(positive, counts, torch.ones_like(counts))
    log_ratio = torch.where(positive, counts * torch.log(safe_counts / mu), torch.zeros_like(mu))
    return _masked_sum(mu - counts + log_ratio, mask, weights)


def least_squares(expected: torch.Tensor, counts: torch.Tensor, background: Background = 0.0,
                  mask: Optional[torch.Tensor] = None, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``0.5 * sum w (counts - expected - background)^2`` over the mask, a scalar."""
    residual = counts - (expected + background)
    return 0.5 * _masked_sum(residual * residual, mask, weights)


LOSSES = {"poisson": poisson_nll, "least_squares": least_squares}


class _DataLoss(nn.Module):
    """A data loss with its observed counts, background, mask and weights as buffers (subclasses set ``function``)."""

    def __init__(self, observed: torch.Tensor, adc_offset: float = 0.0, background: Background = 0.0,
                 mask: Optional[torch.Tensor] = None, weights: Optional[torch.Tensor] = None):
        super().__init__()
        self.register_buffer("counts", photon_counts(observed, adc_offset))
        self.register_buffer("background", torch.as_tensor(background, dtype=observed.dtype, device=observed.device))
        self.register_buffer("mask", None if mask is None else mask.to(torch.bool))
        self.register_buffer("weights", weights)

    def forward(self, expected: torch.Tensor, background: Optional[Background] = None) -> torch.Tensor:
        """The loss of ``expected`` photons; ``background`` replaces the stored one (e.g. while refining it)."""
        background = self.background if background is None else background
        return self.function(expected, self.counts, background, self.mask, self.weights)


class PoissonLoss(_DataLoss):
    """:func:`poisson_nll` with stored data: ``PoissonLoss(observed, adc_offset, background, mask, weights)(expected)``."""

    function = staticmethod(poisson_nll)


class LeastSquaresLoss(_DataLoss):
    """:func:`least_squares` with stored data: ``LeastSquaresLoss(observed, ...)(expected)``."""

    function = staticmethod(least_squares)
