"""Poisson noise images against the C program's noiseimage.img, and the torch variant's semantics."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from torch_sim.errors import InputError
from torch_sim.rng import (
    CRandom,
    Seed,
    mosaic_domain_draws,
    poidev,
    poisson_noise_image,
    poisson_noise_image_torch,
    random_misset_rad,
)

CASES = Path(__file__).resolve().parents[1] / "golden_data" / "nanobragg_c" / "cases"
SMV_HEADER_BYTES = 512


def flag_value(args, flag, default=None):
    return args[args.index(flag) + 1] if flag in args else default


def replay_noise(case: str, mosaic_domains: int = 1):
    """Run the C program's RNG history for a case: random misset, mosaic draws, then the noise loop."""
    args = (CASES / case / "command.txt").read_text().split()
    pixels = int(flag_value(args, "-detpixels"))
    float_image = np.fromfile(CASES / case / "floatimage.bin", dtype="<f4").reshape(pixels, pixels)
    rng = CRandom()
    if "random" in args:
        random_misset_rad(rng, Seed(-int(flag_value(args, "-misset_seed"))))
    mosaic_domain_draws(rng, Seed(-int(flag_value(args, "-mosaic_seed", "12345678"))), mosaic_domains)
    seed = Seed(-int(flag_value(args, "-seed")))
    return poisson_noise_image(float_image, rng, seed, float(flag_value(args, "-adc", "40")))


@pytest.mark.parametrize("case", ["noise_seeded", "noise_high_counts", "cubic_mosflm"])
def test_noise_image_identical_to_c(case):
    result = replay_noise(case)
    raw = (CASES / case / "noiseimage.img").read_bytes()
    assert b"BYTE_ORDER=little_endian" in raw[:SMV_HEADER_BYTES]
    expected = np.frombuffer(raw[SMV_HEADER_BYTES:], dtype="<u2").reshape(result.image.shape)
    assert result.image.dtype == np.uint16
    assert np.mean(result.image == expected) == 1.0
    stdout = (CASES / case / "stdout.txt").read_text().splitlines()
    line = next(line for line in stdout if "photons on noise image" in line)
    assert "%.0f photons on noise image (%d overloads)" % (result.photons, result.overloads) == line


def test_noise_high_counts_covers_all_regimes():
    float_image = np.fromfile(CASES / "noise_high_counts" / "floatimage.bin", dtype="<f4")
    assert (float_image < 12).any() and ((float_image >= 12) & (float_image <= 1e6)).any() and (float_image > 1e6).any()


def test_noise_matches_poidev_per_pixel():
    values = np.array([[0.0, 0.3, 5.0], [20.0, 3e6, 11.99]], dtype=np.float32)
    result = poisson_noise_image(values, CRandom(), Seed(-9), adc_offset=10.0)
    rng, seed = CRandom(), Seed(-9)
    counts = [poidev(rng, v, seed) for v in values.ravel().tolist()]
    np.testing.assert_array_equal(result.image.ravel(), [min(int(c + 10.0), 65535) for c in counts])
    total = 0.0
    for count in counts:
        total += count
    assert result.photons == total and result.overloads == 1


def test_noise_roi_skips_pixels_and_draws():
    float_image = np.random.default_rng(3).exponential(2.0, (6, 7)).astype(np.float32)
    roi = (1, 3, 2, 4)  # x (fast) 1..3, y (slow) 2..4, inclusive
    result = poisson_noise_image(float_image, CRandom(), Seed(-21), 40.0, roi=roi)
    inside = poisson_noise_image(float_image[2:5, 1:4], CRandom(), Seed(-21), 40.0)
    expected = np.zeros_like(result.image)
    expected[2:5, 1:4] = inside.image
    np.testing.assert_array_equal(result.image, expected)
    assert (result.photons, result.overloads) == (inside.photons, inside.overloads)
    empty = poisson_noise_image(float_image, CRandom(), Seed(-21), 40.0, roi=(5, 2, 0, 9))
    assert not empty.image.any() and empty.photons == 0.0


def test_noise_clipping_and_truncation():
    values = np.array([[70000.0, 2e6, 0.0]], dtype=np.float32)
    rng, seed = CRandom(), Seed(-4)
    result = poisson_noise_image(values, rng, seed, adc_offset=40.0)
    assert result.overloads == 2 and result.image[0, 0] == 65535 and result.image[0, 1] == 65535
    assert result.image[0, 2] == 40
    fractional = poisson_noise_image(np.array([[2e6]], dtype=np.float32), CRandom(), Seed(-4), adc_offset=-1999000.0)
    count = poidev(CRandom(), 2e6, Seed(-4))
    assert count != math.floor(count)  # the Gaussian regime gives non-integers, truncated by the cast
    assert fractional.image[0, 0] == math.floor(count - 1999000.0)


def test_noise_bad_input():
    with pytest.raises(InputError):
        poisson_noise_image(np.array([[1.0, np.nan]], dtype=np.float32), CRandom(), Seed(-1))
    with pytest.raises(InputError):
        poisson_noise_image(np.ones(4, dtype=np.float32), CRandom(), Seed(-1))
    with pytest.raises(InputError):
        poisson_noise_image_torch(torch.tensor([[math.inf]]))


def test_torch_noise_semantics():
    float_image = torch.full((64, 64), 4.0)
    float_image[0, 0] = 1e5
    float_image[0, 1] = -3.0
    gen = torch.Generator().manual_seed(0)
    result = poisson_noise_image_torch(float_image, adc_offset=40.0, generator=gen)
    assert result.image.dtype == torch.uint16 and result.overloads == 1
    image = result.image.to(torch.int64)
    assert image[0, 0] == 65535 and image[0, 1] == 40
    assert abs(image[1:].double().mean().item() - 44.0) < 0.2
    again = poisson_noise_image_torch(float_image, adc_offset=40.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.image, result.image) and again.photons == result.photons
    roi = poisson_noise_image_torch(float_image, adc_offset=40.0, roi=(10, 19, 5, 7))
    assert roi.image.to(torch.int64)[:5].sum() == 0 and roi.image.to(torch.int64)[5:8, 10:20].min() >= 40
    assert roi.image.to(torch.int64)[5:8, 20:].sum() == 0
    empty = poisson_noise_image_torch(float_image, roi=(0, -5, 0, 63))
    assert empty.image.to(torch.int64).sum() == 0 and empty.photons == 0.0 and empty.overloads == 0
