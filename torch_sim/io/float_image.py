"""Raw float images (``-floatfile``): float32 little-endian, fast index varying fastest.

Pixel (slow, fast) is stored at index ``slow*fpixels + fast``, i.e. a [slow, fast]
array in C order. Values are photons per pixel.
"""

import os

import numpy as np

from torch_sim.errors import InputError
from torch_sim.io.atomic import atomic_write


def write_float_image(path, image: np.ndarray) -> None:
    """Write a [slow, fast] image as float32 little-endian."""
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"float image must be 2-D [slow, fast], got shape {array.shape}")
    with atomic_write(path) as handle:
        handle.write(np.ascontiguousarray(array, dtype="<f4").tobytes())


def read_float_image(path, shape: tuple[int, int]) -> np.ndarray:
    """Read a float32 [slow, fast] image of the given ``(spixels, fpixels)`` shape."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InputError(f"cannot read float image {path}: {error.strerror}") from None
    slow, fast = shape
    expected = 4 * slow * fast
    if len(data) != expected:
        raise InputError(f"{path}: float image holds {len(data)} bytes, {slow}x{fast} pixels need {expected}")
    return np.frombuffer(data, dtype="<f4").reshape(slow, fast).astype(np.float32)
