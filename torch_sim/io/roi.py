"""The C program's region of interest as a pixel mask."""

from typing import Optional

import numpy as np

#: ``(xmin, xmax, ymin, ymax)``: inclusive fast (x) and slow (y) pixel bounds, as ``-roi``.
Roi = tuple[int, int, int, int]


def roi_mask(shape: tuple[int, int], roi: Optional[Roi]) -> np.ndarray:
    """Boolean [slow, fast] mask, True inside ``roi`` (everywhere when ``roi`` is None)."""
    if roi is None:
        return np.ones(shape, dtype=bool)
    xmin, xmax, ymin, ymax = roi
    slow = np.arange(shape[0])[:, None]
    fast = np.arange(shape[1])[None, :]
    return (fast >= xmin) & (fast <= xmax) & (slow >= ymin) & (slow <= ymax)
