"""Float, int (SMV pixel values), PGM and HDF5 images against the C program's outputs."""

from pathlib import Path

import numpy as np
import pytest

from torch_sim.errors import InputError
from torch_sim.io import (
    default_int_scale,
    default_pgm_scale,
    float_to_int_image,
    float_to_pgm_bytes,
    read_float_image,
    read_hdf5,
    read_smv,
    roi_mask,
    write_float_image,
    write_hdf5,
    write_pgm,
)

CASES = Path(__file__).resolve().parents[1] / "golden_data" / "nanobragg_c" / "cases"


def _golden_float(case: str, shape: tuple[int, int]) -> np.ndarray:
    return read_float_image(CASES / case / "floatimage.bin", shape)


@pytest.mark.parametrize(
    "case, shape, scale, adc, roi",
    [
        ("cubic_mosflm", (256, 256), None, 40.0, None),
        ("noise_seeded", (128, 128), 2.0, 10.0, None),
        ("realistic_1024", (1024, 1024), None, 40.0, None),
        ("roi", (128, 128), None, 40.0, (20, 90, 30, 100)),
    ],
)
def test_int_image_matches_golden(case, shape, scale, adc, roi):
    image = _golden_float(case, shape)
    if scale is None:
        scale = default_int_scale(float(image[roi_mask(shape, roi)].max()))
    expected = read_smv(CASES / case / "intimage.img").data
    assert np.array_equal(float_to_int_image(image, scale, adc, roi), expected)


def test_int_image_rounds_through_float32():
    # test + 0.5 = 1 - 2**-30 becomes 1.0 in float32, so floorf gives 1 (floor in double: 0).
    image = np.array([[0.0, -(2.0**-30)]], dtype=np.float32)
    assert float_to_int_image(image, scale=1.0, adc_offset=0.5).tolist() == [[1, 1]]
    assert float_to_int_image(np.ones((1, 1), np.float32), 0.5 - 2.0**-30, 0.0).tolist() == [[1]]
    assert float_to_int_image(np.array([[1e9, -5.0]], dtype=np.float32), 1.0, 0.0).tolist() == [[65535, 0]]


def test_default_scales():
    assert default_int_scale(0.0) == 1.0 and default_int_scale(110.0) == 500.0
    assert default_pgm_scale(10.0, 3.0) == 5.0 and default_pgm_scale(0.0, 3.0) == 3.0


def test_pgm_matches_golden(tmp_path):
    image = _golden_float("cubic_mosflm", (256, 256))
    write_pgm(tmp_path / "image.pgm", float_to_pgm_bytes(image, 2.5), 2.5)
    assert (tmp_path / "image.pgm").read_bytes() == (CASES / "cubic_mosflm" / "image.pgm").read_bytes()


def test_pgm_truncates_caps_and_masks():
    image = np.array([[1.99, 300.0, -3.0], [np.nan, 2.5, 7.0]], dtype=np.float32)
    assert float_to_pgm_bytes(image, 1.0).tolist() == [[1, 255, 0], [0, 2, 7]]
    assert float_to_pgm_bytes(image, 1.0, roi=(1, 2, 1, 1)).tolist() == [[0, 0, 0], [0, 2, 7]]


def test_float_image_round_trip_and_layout(tmp_path):
    image = np.arange(12, dtype=np.float64).reshape(3, 4)  # [slow, fast]
    write_float_image(tmp_path / "f.bin", image)
    raw = np.frombuffer((tmp_path / "f.bin").read_bytes(), dtype="<f4")
    assert raw[1 * 4 + 2] == image[1, 2]
    back = read_float_image(tmp_path / "f.bin", (3, 4))
    assert back.dtype == np.float32 and np.array_equal(back, image)


def test_float_image_wrong_size(tmp_path):
    with pytest.raises(InputError, match=r"floatimage\.bin: .*262144 bytes, 128x128 pixels need 65536"):
        read_float_image(CASES / "cubic_mosflm" / "floatimage.bin", (128, 128))
    with pytest.raises(InputError, match=r"262144 bytes, 100x100 pixels need 40000"):
        read_float_image(CASES / "cubic_mosflm" / "floatimage.bin", (100, 100))
    with pytest.raises(InputError, match="missing.bin"):
        read_float_image(tmp_path / "missing.bin", (2, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hdf5_round_trip(tmp_path, dtype):
    image = np.linspace(0, 1, 12, dtype=dtype).reshape(3, 4)
    metadata = {"pixel_size_mm": 0.1, "fpixels": 4, "convention": "MOSFLM", "fdet_vector": np.array([0.0, 0, 1])}
    write_hdf5(tmp_path / "out.h5", image, metadata)
    result = read_hdf5(tmp_path / "out.h5")
    assert result.image.dtype == dtype and np.array_equal(result.image, image)
    assert result.metadata["pixel_size_mm"] == 0.1 and result.metadata["fpixels"] == 4
    assert result.metadata["convention"] == "MOSFLM"
    assert result.metadata["fdet_vector"].tolist() == [0.0, 0.0, 1.0]


def test_hdf5_bad_input(tmp_path):
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="bad.h5"):
        read_hdf5(tmp_path / "bad.h5")
    with pytest.raises(ValueError, match="float32/float64"):
        write_hdf5(tmp_path / "x.h5", np.zeros((2, 2), dtype=np.int16), {})
