"""8-bit PGM (P5) preview images, as nanoBragg.c's ``-pgmfile``."""

from typing import Optional

import numpy as np

from torch_sim.io.atomic import atomic_write
from torch_sim.io.roi import Roi, roi_mask


def default_pgm_scale(rmsd: float, intfile_scale: float) -> float:
    """``-pgmscale`` default: ``250/(5*rmsd)`` when rmsd > 0, else the intfile scale.

    ``rmsd`` is the C program's RMS deviation of the float image (photons) inside the ROI.
    """
    return 250.0 / (5.0 * rmsd) if rmsd > 0.0 else intfile_scale


def float_to_pgm_bytes(float_image: np.ndarray, pgm_scale: float, roi: Optional[Roi] = None) -> np.ndarray:
    """uint8 [slow, fast] grey levels from a float32 [slow, fast] image.

    As the C program: ``test = f*pgm_scale`` in double, capped at 255 and truncated
    toward zero. Pixels outside ``roi`` are 0; negative and NaN values, undefined in
    the C conversion, give 0.
    """
    image = np.asarray(float_image, dtype=np.float32)
    test = np.minimum(image.astype(np.float64) * pgm_scale, 255.0)
    test[~roi_mask(image.shape, roi) | ~(test > 0.0)] = 0.0
    return np.trunc(test).astype(np.uint8)


def write_pgm(path, bytes_image: np.ndarray, pgm_scale: float) -> None:
    """Write a uint8 [slow, fast] image with the C program's header, which records ``pgm_scale``."""
    image = np.asarray(bytes_image)
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"PGM data must be a 2-D uint8 array, got {image.ndim}-D {image.dtype}")
    slow, fast = image.shape
    header = "P5\n%d %d\n# pixels scaled by %g\n255\n" % (fast, slow, pgm_scale)
    with atomic_write(path) as handle:
        handle.write(header.encode("ascii"))
        handle.write(image.tobytes())
