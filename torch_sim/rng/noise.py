"""Poisson noise image of nanoBragg.c (``-noisefile``): C-identical serial loop and a fast torch variant.

Both return a :class:`NoiseImage`: counts plus ADC offset, clipped at 65535
(each clip counted as an overload) and truncated to uint16; pixels outside the
ROI are 0. Images are [slow, fast]; the ROI is (xmin, xmax, ymin, ymax) in
pixels, inclusive, x along fast and y along slow, as the C ``-roi``.
"""

import math
import struct
from typing import NamedTuple

import numpy as np
import torch

from torch_sim.errors import InputError
from torch_sim.rng.c_random import AM, IA, IM, NDIV, RNMX, RNMX_F32, CRandom, Seed
from torch_sim.rng.deviates import exp_neg_f32, poidev

_ADC_MAX = 65535.0
_F32 = struct.Struct("f")


class NoiseImage(NamedTuple):
    """image: [slow, fast] uint16 (numpy or torch); photons: sum of the Poisson deviates; overloads: clipped pixels."""

    image: np.ndarray | torch.Tensor
    photons: float
    overloads: int


def _roi_bounds(roi, shape) -> tuple[int, int, int, int]:
    """ROI clipped to the image as (x0, x1, y0, y1), inclusive; x1 < x0 or y1 < y0 when empty."""
    slow, fast = shape
    if roi is None:
        return 0, fast - 1, 0, slow - 1
    if len(roi) != 4:
        raise InputError(f"roi must be (xmin, xmax, ymin, ymax), got {roi!r}")
    xmin, xmax, ymin, ymax = (int(v) for v in roi)
    return max(xmin, 0), min(xmax, fast - 1), max(ymin, 0), min(ymax, slow - 1)


def _to_uint16(test: np.ndarray) -> np.ndarray:
    """The C ``(unsigned short) test`` on x86-64: truncate to a 32-bit int, keep the low 16 bits."""
    as_int = np.where(test < -(2.0**31), 0.0, np.trunc(test)).astype(np.int64)
    return (as_int & 0xFFFF).astype(np.uint16)


def _draw_counts(values: list, rng: CRandom, seed: Seed) -> list:
    """``poidev`` of each value, in order; the direct method (xm < 12) is inlined for speed."""
    counts = [0.0] * len(values)
    iv, exp, pack, unpack = rng.iv, math.exp, _F32.pack, _F32.unpack
    ia, im, am, ndiv, rnmx, rnmx_f32 = IA, IM, AM, NDIV, RNMX, RNMX_F32
    idum, iy, oldm, g = seed.value, rng.iy, rng.oldm, rng.g
    for k, xm in enumerate(values):
        if xm < 12.0:
            if xm != oldm:
                oldm = xm
                g = unpack(pack(exp(-xm)))[0] if xm >= 0.0 else exp_neg_f32(xm)
            if idum <= 0 or not iy:
                seed.value = idum
                rng.load(seed)
                idum, iy = seed.value, rng.iy
            idum = ia * idum % im
            j = iy // ndiv
            iy = iv[j]
            iv[j] = idum
            t = unpack(pack(am * iy))[0]
            if t > rnmx:
                t = rnmx_f32
            em = 0.0
            while t > g:
                em += 1.0
                idum = ia * idum % im
                j = iy // ndiv
                iy = iv[j]
                iv[j] = idum
                r = unpack(pack(am * iy))[0]
                t = unpack(pack(t * (rnmx_f32 if r > rnmx else r)))[0]
            counts[k] = em
        else:
            seed.value, rng.iy, rng.oldm, rng.g = idum, iy, oldm, g
            counts[k] = poidev(rng, xm, seed)
            idum, iy, oldm, g = seed.value, rng.iy, rng.oldm, rng.g
    seed.value, rng.iy, rng.oldm, rng.g = idum, iy, oldm, g
    return counts


def poisson_noise_image(float_image, rng: CRandom, seed: Seed, adc_offset: float = 40.0, roi=None) -> NoiseImage:
    """The C noise loop, bit for bit: ``poidev`` per pixel, slow then fast, threading ``rng`` state.

    float_image: [slow, fast] mean photons per pixel (numpy or torch), used as float32
    like the C ``floatimage``. Pixels outside ``roi`` draw no random numbers.
    Returns a numpy uint16 image.
    """
    if isinstance(float_image, torch.Tensor):
        float_image = float_image.detach().cpu().numpy()
    img = np.asarray(float_image, dtype=np.float32)
    if img.ndim != 2:
        raise InputError(f"float_image must be 2-D [slow, fast], got shape {img.shape}")
    x0, x1, y0, y1 = _roi_bounds(roi, img.shape)
    out = np.zeros(img.shape, dtype=np.uint16)
    if x1 < x0 or y1 < y0:
        return NoiseImage(out, 0.0, 0)
    block = img[y0 : y1 + 1, x0 : x1 + 1]
    if not np.isfinite(block).all():
        raise InputError("float_image has NaN or infinite pixels inside the ROI")
    counts = np.asarray(_draw_counts(block.ravel().tolist(), rng, seed), dtype=np.float64)
    photons = float(np.cumsum(counts)[-1])  # sequential double sum, as the C
    test = counts + float(adc_offset)
    over = test > _ADC_MAX
    out[y0 : y1 + 1, x0 : x1 + 1] = _to_uint16(np.where(over, _ADC_MAX, test)).reshape(block.shape)
    return NoiseImage(out, photons, int(over.sum()))


def poisson_noise_image_torch(
    float_image: torch.Tensor, adc_offset: float = 40.0, generator: torch.Generator | None = None, roi=None
) -> NoiseImage:
    """Vectorised noise with ``torch.poisson``: same ADC, clipping, overload and ROI rules as the C.

    Statistically equivalent, not C-identical: other random integers, and exact
    Poisson counts where the C uses a Gaussian (mean > 1e6). Negative means give 0.
    Returns a torch.uint16 image on the input's device.
    """
    if float_image.dim() != 2:
        raise InputError(f"float_image must be 2-D [slow, fast], got shape {tuple(float_image.shape)}")
    x0, x1, y0, y1 = _roi_bounds(roi, float_image.shape)
    rates = float_image.detach().to(torch.float32).to(torch.float64)
    inside = torch.zeros(rates.shape, dtype=torch.bool, device=rates.device)
    if x1 >= x0 and y1 >= y0:
        inside[y0 : y1 + 1, x0 : x1 + 1] = True
    if not torch.isfinite(rates[inside]).all():
        raise InputError("float_image has NaN or infinite pixels inside the ROI")
    rates = torch.where(inside, rates.clamp(min=0.0), 0.0)
    counts = torch.poisson(rates, generator=generator)
    test = counts + float(adc_offset)
    over = inside & (test > _ADC_MAX)
    test = torch.where(over, _ADC_MAX, test)
    as_int = torch.where(test < -(2.0**31), 0.0, torch.trunc(test)).to(torch.int64) & 0xFFFF
    image = torch.where(inside, as_int, 0).to(torch.uint16)
    return NoiseImage(image, float(counts[inside].sum()), int(over.sum()))
