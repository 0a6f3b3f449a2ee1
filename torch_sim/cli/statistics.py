"""Image statistics the C program prints after rendering (max_I and where, mean, rms, rmsd)."""

import math
from dataclasses import dataclass

import numpy as np

from torch_sim.config.detector_config import DetectorConfig


@dataclass
class ImageStatistics:
    max_I: float
    max_I_fast_m: float  #: Fdet (m) of the last subpixel of the brightest pixel, as the C reports
    max_I_slow_m: float
    mean: float
    rms: float
    rmsd: float


def image_statistics(image: np.ndarray, rendered_index: np.ndarray, detector: DetectorConfig, pixel_size_m: float) -> ImageStatistics:
    """C statistics of a float32 image [slow, fast] over the rendered pixels.

    mean and rms cover the rendered pixels (ROI and mask); rmsd covers the ROI,
    masked pixels included, as in the C program.
    """
    values32 = image.reshape(-1)[rendered_index].astype(np.float32)
    values = values32.astype(np.float64)
    max_I, max_fast, max_slow = 0.0, 0.0, 0.0
    if values.size and values.max() > 0.0:
        best = int(np.argmax(values))
        max_I = float(values[best])
        slow, fast = divmod(int(rendered_index[best]), detector.fpixels)
        n = detector.oversample
        subpixel = pixel_size_m / n
        max_fast = subpixel * (fast * n + n - 1) + subpixel / 2.0
        max_slow = subpixel * (slow * n + n - 1) + subpixel / 2.0
    count = max(values.size, 1)
    mean = float(values.sum()) / count
    squares = (values32 * values32).astype(np.float64)  # the C multiplies the float pixels in float
    rms = math.sqrt(float(squares.sum()) / (max(values.size, 2) - 1))
    fast_min, fast_max, slow_min, slow_max = detector.roi
    roi_values = image[slow_min:slow_max + 1, fast_min:fast_max + 1].astype(np.float64)
    rmsd = math.sqrt(float(((roi_values - mean) ** 2).sum()) / (max(roi_values.size, 2) - 1))
    return ImageStatistics(max_I, max_fast, max_slow, mean, rms, rmsd)
