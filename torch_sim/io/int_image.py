"""The C program's conversion of the float image (photons/pixel) to 16-bit intfile pixels."""

from typing import Optional

import numpy as np

from torch_sim.io.roi import Roi, roi_mask

#: The C program's ``-adc`` default (counts added to every pixel).
DEFAULT_ADC_OFFSET = 40.0


def default_int_scale(max_I: float) -> float:
    """``-scale`` default: ``55000/max_I`` when max_I > 0, else 1.

    ``max_I`` is the largest float32 pixel value (photons) inside the ROI.
    """
    return 55000.0 / max_I if max_I > 0.0 else 1.0


def float_to_int_image(
    float_image: np.ndarray, scale: float, adc_offset: float = DEFAULT_ADC_OFFSET, roi: Optional[Roi] = None
) -> np.ndarray:
    """uint16 [slow, fast] intfile pixels from a float32 [slow, fast] image.

    As the C program: ``test = f*scale + adc`` in double, clipped to [0, 65535],
    then ``floorf(test + 0.5)``, whose argument is first rounded to float32.
    Pixels outside ``roi`` are 0, and so are NaN pixels (C: undefined).
    """
    image = np.asarray(float_image, dtype=np.float32)
    test = image.astype(np.float64) * scale + adc_offset
    test = np.clip(test, 0.0, 65535.0)
    rounded = np.floor((test + 0.5).astype(np.float32))
    rounded[~roi_mask(image.shape, roi) | np.isnan(rounded)] = 0.0
    return rounded.astype(np.uint16)
