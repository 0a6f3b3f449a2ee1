"""Choosing the pixels worth refining: where spots are, with a margin for spots to move.

A pixel whose expected count stays at the background for every parameter value
the refinement visits adds only a constant to the loss, so leaving it out
changes neither the optimum nor the standard errors, and saves rendering it.
:func:`spot_mask` keeps the pixels where any of the given images (e.g. the
observed image and the starting model) shows signal above the background,
grown by a margin (pixels) that covers how far spots may move.
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
