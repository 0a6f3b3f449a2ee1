"""SMV reading (GetFrame/ValueOf semantics) and writing (nanoBragg.c's exact header bytes)."""

import math
import re
from pathlib import Path

import fabio
import numpy as np
import pytest

from torch_sim.errors import InputError
from torch_sim.io import (
    SmvField,
    header_value,
    nanobragg_smv_header_fields,
    read_smv,
    smv_header_text,
    write_smv,
)
from torch_sim.units import angstrom_to_m, mm_to_m

GOLDEN = Path(__file__).resolve().parents[1] / "golden_data" / "nanobragg_c"
CASES = GOLDEN / "cases"


def _argument(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _printed(stdout: str, name: str) -> list[str]:
    """The numbers printed after ``name`` on its line of stdout.txt (as text)."""
    line = re.search(rf"{re.escape(name)}\s*(.*)", stdout).group(1)
    return re.findall(r"-?[0-9.]+(?:e[-+][0-9]+)?", line)


def _mosflm_default_fields(case: str, noise_file: bool) -> list[SmvField]:
    """Rebuild the header inputs of a MOSFLM-convention case without detector rotations.

    The SI values follow the C program's defaults (beam centre at (detsize + pixel)/2,
    F/S beam half a pixel further, near point = beam point); each derived value is
    checked against the %g text the C program printed. The DIALS origin is taken
    from stdout.txt (printed with %g, as in the header).
    """
    command = (CASES / case / "command.txt").read_text().split()
    stdout = (CASES / case / "stdout.txt").read_text()
    pixel = mm_to_m(float(_argument(command, "-pixel")))
    distance = mm_to_m(float(_argument(command, "-distance")))
    lambda0 = angstrom_to_m(float(_argument(command, "-lambda")))
    npix = int(_argument(command, "-detpixels"))
    detsize = pixel * npix
    xbeam = ybeam = (detsize + pixel) / 2.0
    fbeam = ybeam + 0.5 * pixel
    sbeam = xbeam + 0.5 * pixel
    assert _printed(stdout, "Xbeam=") == ["%g" % xbeam, "%g" % ybeam]
    assert _printed(stdout, "Fbeam=") == ["%g" % fbeam, "%g" % sbeam]
    assert _printed(stdout, "Fclose=") == ["%g" % fbeam, "%g" % sbeam]
    assert _printed(stdout, "  distance=")[:2] == ["%g" % distance, "%g" % detsize]
    assert _printed(stdout, "lambda0 =") == ["%g" % lambda0]
    return nanobragg_smv_header_fields(
        fpixels=npix,
        spixels=npix,
        pixel_size_m=pixel,
        distance_m=distance,
        lambda0_m=lambda0,
        Xbeam_m=xbeam,
        Ybeam_m=ybeam,
        Fbeam_m=fbeam,
        Sbeam_m=sbeam,
        detsize_s_m=detsize,
        dials_origin_mm=[float(v) for v in _printed(stdout, "dials origin=")],
        ORGX=fbeam / pixel + 0.5,
        ORGY=sbeam / pixel + 0.5,
        close_distance_m=distance,
        phi0_rad=0.0,
        osc_rad=0.0,
        twotheta_rad=0.0,
        noise_file=noise_file,
    )


GOLDEN_SMV = [
    ("cubic_mosflm", "intimage.img"),
    ("cubic_mosflm", "noiseimage.img"),
    ("noise_seeded", "intimage.img"),
    ("noise_seeded", "noiseimage.img"),
    ("realistic_1024", "intimage.img"),
]


@pytest.mark.parametrize("case, name", GOLDEN_SMV)
def test_rebuilt_header_and_file_match_golden_bytes(tmp_path, case, name):
    golden = (CASES / case / name).read_bytes()
    fields = _mosflm_default_fields(case, noise_file=name == "noiseimage.img")
    assert smv_header_text(fields).encode("ascii") == golden[:512]
    image = read_smv(CASES / case / name)
    write_smv(tmp_path / name, image.data, fields)
    assert (tmp_path / name).read_bytes() == golden


@pytest.mark.parametrize("case, name", GOLDEN_SMV[:3])
def test_read_golden_smv_agrees_with_fabio(case, name):
    image = read_smv(CASES / case / name)
    reference = fabio.open(str(CASES / case / name)).data
    assert image.data.dtype == np.uint16
    assert np.array_equal(image.data, reference)
    assert image.header_text.startswith("{\nHEADER_BYTES=512;") and image.header_text.endswith(" ")


def test_value_of_follows_c_valueof():
    image = read_smv(CASES / "cubic_mosflm" / "intimage.img")
    assert image.value_of("PIXEL_SIZE") == 0.1
    assert image.value_of("SIZE1") == 256
    assert image.value_of("DIALS_ORIGIN") == -12.9  # atof stops at the comma
    assert image.value_of("BEAMLINE") == 0.0  # "fake" is not a number
    assert math.isnan(image.value_of("OSC_END"))
    header = "{\nHEADER_BYTES=512;\nDISTANCE=100;\nCLOSE_DISTANCE=120;\nX\n"
    assert header_value(header, "DISTANCE") == 120.0  # last match, inside CLOSE_DISTANCE
    assert header_value(header, "X") == 0.0  # no "=" after the last match
    assert header_value("AAA=1;", "AA") == 1.0  # non-overlapping strstr scan


def test_mask_image_and_header_keywords():
    mask = read_smv(GOLDEN / "inputs" / "mask.img")
    assert mask.data.shape == (128, 128)
    assert mask.value_of("BEAM_CENTER_Y") == 6.4 and mask.value_of("WAVELENGTH") == 1.0
    assert math.isnan(mask.value_of("ORGX"))
    assert set(np.unique(mask.data).tolist()) == {0, 1}


def test_big_endian_and_larger_header(tmp_path):
    header = "{\nHEADER_BYTES=1024;\nDIM=2;\nBYTE_ORDER=big_endian;\nSIZE1=3;\nSIZE2=2;\n}\f"
    data = np.arange(6, dtype=np.uint16).reshape(2, 3) * 257 + 1
    (tmp_path / "big.img").write_bytes(header.ljust(1024).encode() + data.astype(">u2").tobytes())
    image = read_smv(tmp_path / "big.img")
    assert np.array_equal(image.data, data) and len(image.header_text) == 1024


def test_noise_variant_differs_only_for_negative_zero_beam():
    common = dict(
        fpixels=4,
        spixels=4,
        pixel_size_m=1e-4,
        distance_m=0.1,
        lambda0_m=1e-10,
        Xbeam_m=0.0,
        Ybeam_m=0.0,
        Fbeam_m=-0.0,
        Sbeam_m=-0.0,
        detsize_s_m=4e-4,
        dials_origin_mm=(0.0, 0.0, -100.0),
        ORGX=0.5,
        ORGY=0.5,
        close_distance_m=0.1,
        phi0_rad=0.0,
        osc_rad=0.0,
        twotheta_rad=0.0,
    )
    int_text = smv_header_text(nanobragg_smv_header_fields(**common))
    noise_text = smv_header_text(nanobragg_smv_header_fields(**common, noise_file=True))
    assert "DENZO_X_BEAM=-0;\nDENZO_Y_BEAM=-0;\n" in int_text
    assert "DENZO_X_BEAM=0;\nDENZO_Y_BEAM=0;\n" in noise_text
    assert "DIALS_ORIGIN=0,0,-100\nXDS_ORGX=0.5;\n" in int_text


def test_write_smv_rejects_inconsistent_input(tmp_path):
    fields = [SmvField("SIZE1", "3"), SmvField("SIZE2", "2")]
    with pytest.raises(ValueError, match="SIZE1/SIZE2"):
        write_smv(tmp_path / "x.img", np.zeros((3, 2), dtype=np.uint16), fields)
    with pytest.raises(ValueError, match="uint16"):
        write_smv(tmp_path / "x.img", np.zeros((2, 3), dtype=np.int32), fields)
    assert not (tmp_path / "x.img").exists()


def test_header_too_long_for_512_bytes_is_written_like_the_c(tmp_path):
    """nanoBragg.c writes the whole text and still declares 512 bytes; the image follows the text."""
    fields = [SmvField("SIZE1", "3"), SmvField("SIZE2", "2"), SmvField("COMMENT", "x" * 500)]
    text = smv_header_text(fields)
    assert len(text) > 512 and text.startswith("{\nHEADER_BYTES=512;\n") and text.endswith("}\f")
    data = np.arange(6, dtype=np.uint16).reshape(2, 3)
    write_smv(tmp_path / "long.img", data, fields)
    raw = (tmp_path / "long.img").read_bytes()
    assert raw[:len(text)] == text.encode() and np.array_equal(np.frombuffer(raw[len(text):], "<u2"), data.ravel())


def test_header_too_long_for_512_bytes_fits_on_request(tmp_path):
    fields = [SmvField("SIZE1", "3"), SmvField("SIZE2", "2"), SmvField("COMMENT", "x" * 500)]
    text = smv_header_text(fields, fit_header=True)
    assert len(text) == 1024 and text.startswith("{\nHEADER_BYTES=1024;\n")
    data = np.arange(6, dtype=np.uint16).reshape(2, 3)
    write_smv(tmp_path / "long.img", data, fields, fit_header=True)
    image = read_smv(tmp_path / "long.img")
    assert np.array_equal(image.data, data) and image.value_of("COMMENT") == 0.0


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"P5\n2 2\n255\n" + bytes(600), "does not look like an SMV image"),
        (b"{\nHEADER_BYTES=512;\n", "does not look like an SMV image"),
        ("{\nHEADER_BYTES=512;\nSIZE1=4;\nSIZE2=4;\n}".ljust(512).encode() + bytes(31), "truncated"),
        ("{\nHEADER_BYTES=512;\nDIM=2;\n}".ljust(512).encode(), "no usable SIZE1"),
    ],
)
def test_bad_smv_files(tmp_path, content, fragment):
    (tmp_path / "bad.img").write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        read_smv(tmp_path / "bad.img")


def test_missing_smv(tmp_path):
    with pytest.raises(InputError, match="nothere.img"):
        read_smv(tmp_path / "nothere.img")
