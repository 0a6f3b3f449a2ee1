"""Choosing the pixels worth refining: where spots are, and how far out in resolution.

A pixel whose expected count stays at the background for every parameter value
the refinement visits adds only a constant to the loss, so leaving it out
changes neither the optimum nor the standard errors, and saves rendering it.
:func:`spot_mask` keeps the pixels where any of the given images (e.g. the
observed image and the starting model) shows signal above the background,
grown by a margin (pixels) that covers how far spots may move.
:func:`reciprocal_distance` gives each pixel's resolution (1/d), with which
early refinement stages use only the low-resolution pixels, where a wrong cell
displaces spots least.
"""

from typing import Sequence, Union

import torch
import torch.nn.functional as F


def spot_mask(images: Sequence[torch.Tensor], background: Union[float, torch.Tensor] = 0.0,
              threshold: float = 1.0, margin_px: int = 3, smoothing_px: int = 3) -> torch.Tensor:
    """Boolean [slow, fast]: pixels within ``margin_px`` of signal in any image.

    Signal is the ``smoothing_px`` x ``smoothing_px`` box mean of ``image - background``
    (photons per pixel) above ``threshold`` photons.
    """
    keep = None
    for image in images:
        excess = (image.detach().to(torch.float64) - background)[None, None]
        smooth = F.avg_pool2d(excess, smoothing_px, stride=1, padding=smoothing_px // 2, count_include_pad=False)
        signal = smooth[0, 0] > threshold
        keep = signal if keep is None else keep | signal
    grown = F.max_pool2d(keep[None, None].to(torch.float64), 2 * margin_px + 1, stride=1, padding=margin_px)
    return grown[0, 0] > 0


def reciprocal_distance(model) -> torch.Tensor:
    """1/d (1/A) at the centre of every pixel [slow, fast] for the model's geometry and beam wavelength."""
    with torch.no_grad():
        geometry = model.detector()
        detector = model.config.detector
        slow = torch.arange(detector.spixels, dtype=geometry.pix0.dtype, device=geometry.pix0.device)
        fast = torch.arange(detector.fpixels, dtype=geometry.pix0.dtype, device=geometry.pix0.device)
        position = (geometry.pix0 + ((fast[None, :, None] + 0.5) * geometry.fdet
                                     + (slow[:, None, None] + 0.5) * geometry.sdet) * geometry.pixel_size)
        diffracted = position / torch.linalg.vector_norm(position, dim=-1, keepdim=True)
        return torch.linalg.vector_norm(diffracted - geometry.beam, dim=-1) / model.params["wavelength"]
