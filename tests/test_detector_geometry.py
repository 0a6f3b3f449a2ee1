"""Detector geometry, component by component, against the C program's printed values.

For every golden case the configuration is resolved from its command line and the
DetectorGeometry of ``torch_sim.functional.detector_geometry`` is printed with the C
program's ``%g`` format and compared as strings with the matching line of the case's
stdout.txt (exact agreement at the printed precision). Unit tests then pin down each
convention's axes and beam-centre defaults (nanoBragg.c L1172-1257), the pivot choice,
the ``ratio = beam . odet`` distance update (L1709-1760) and the input errors.
"""

import math
import re

import numpy as np
import pytest
import torch

from golden import CASES, resolved_case, stdout_lines
from torch_sim.config.enums import Convention, Pivot
from torch_sim.config.resolve import resolve_arguments
from torch_sim.errors import InputError
from torch_sim.functional.detector_geometry import detector_geometry


# ----------------------------------------------------------------------------- helpers

def _initial_params(detector) -> dict:
    """The refinable detector parameters at their configured values (command-line units)."""
    values = {
        "pixel_size": detector.pixel_size_mm, "beam_x": detector.beam_x_mm, "beam_y": detector.beam_y_mm,
        "detector_rotx": detector.rotx_deg, "detector_roty": detector.roty_deg,
        "detector_rotz": detector.rotz_deg, "twotheta": detector.twotheta_deg,
    }
    if detector.close_distance_mm is not None:
        values["close_distance"] = detector.close_distance_mm
    else:
        values["distance"] = detector.distance_mm
    return {name: torch.tensor(float(value), dtype=torch.float64) for name, value in values.items()}


def geometry_of(config):
    return detector_geometry(config.detector, _initial_params(config.detector))


@pytest.fixture(scope="module")
def golden_geometry(tmp_path_factory):
    """(config, DetectorGeometry) of a golden case, resolved once in a folder holding its inputs."""
    cache = {}

    def get(name):
        if name not in cache:
            config, _ = resolved_case(name, tmp_path_factory.mktemp(f"geom_{name}"))
            cache[name] = (config, geometry_of(config))
        return cache[name]

    return get


def g(*values) -> list:
    """Values as the C's ``%g`` prints them."""
    return ["%g" % float(v) for v in values]


def printed(name: str, pattern: str) -> list:
    """Groups of the first stdout line of ``name`` matching ``pattern``."""
    regex = re.compile(pattern)
    for line in stdout_lines(name):
        match = regex.search(line)
        if match:
            return list(match.groups())
    raise KeyError(f"{pattern!r} not in {name}/stdout.txt")


_NUM = r"(\S+)"
_TRIPLE = rf"{_NUM} {_NUM} {_NUM}$"

#: component -> (stdout pattern, our values from (config, geometry))
COMPONENTS = {
    "xds_incident_beam": (rf"^XDS incident beam: {_TRIPLE}", lambda c, geo: g(*geo.xds_incident_beam)),
    "Xbeam_Ybeam": (rf"^  Xbeam={_NUM} Ybeam={_NUM}$", lambda c, geo: g(geo.Xbeam, geo.Ybeam)),
    "Fbeam_Sbeam": (rf"^  Fbeam={_NUM} Sbeam={_NUM}$", lambda c, geo: g(geo.Fbeam, geo.Sbeam)),
    "Xclose_Yclose": (rf"^  Xclose={_NUM} Yclose={_NUM}$", lambda c, geo: g(geo.Xclose, geo.Yclose)),
    "Fclose_Sclose": (rf"^  Fclose={_NUM} Sclose={_NUM}$", lambda c, geo: g(geo.Fclose, geo.Sclose)),
    "fdet_X_axis": (rf"DIRECTION_OF_DETECTOR_X-AXIS= {_TRIPLE}", lambda c, geo: g(*geo.fdet)),
    "sdet_Y_axis": (rf"DIRECTION_OF_DETECTOR_Y-AXIS= {_TRIPLE}", lambda c, geo: g(*geo.sdet)),
    "odet_Z_axis": (rf"DIRECTION_OF_DETECTOR_Z-AXIS= {_TRIPLE}", lambda c, geo: g(*geo.odet)),
    "incident_beam": (rf"INCIDENT_BEAM_DIRECTION= {_TRIPLE}", lambda c, geo: g(*geo.beam)),
    "dials_origin": (rf"dials origin= {_TRIPLE}", lambda c, geo: g(*geo.dials_origin_mm)),
    "distance": (rf"^  distance={_NUM} detsize=", lambda c, geo: g(geo.distance)),
    "detsize_pixel": (
        r"^  distance=\S+ detsize=(\S+)x(\S+)  pixel=(\S+) meters \((\d+)x(\d+) pixels\)$",
        lambda c, geo: g(geo.detsize_f, geo.detsize_s, geo.pixel_size) + [str(c.detector.fpixels), str(c.detector.spixels)],
    ),
    "spindle_axis": (rf"spindle ROTATION_AXIS= {_TRIPLE}", lambda c, geo: g(*c.detector.spindle_vector)),
}


# ----------------------------------------------------------------------------- golden cases

@pytest.mark.parametrize("component", list(COMPONENTS))
@pytest.mark.parametrize("name", list(CASES))
def test_geometry_matches_c_printout(golden_geometry, name, component):
    config, geometry = golden_geometry(name)
    pattern, ours = COMPONENTS[component]
    with torch.no_grad():
        assert ours(config, geometry) == printed(name, pattern)


@pytest.mark.parametrize("name", list(CASES))
def test_convention_and_pivot_match_c_printout(golden_geometry, name):
    config, _ = golden_geometry(name)
    lines = stdout_lines(name)
    assert f"{config.detector.convention.value} convention selected." in lines
    expected = ("pivoting detector around sample" if config.detector.pivot == Pivot.SAMPLE
                else "pivoting detector around direct beam spot")
    assert expected in lines


# ----------------------------------------------------------------------------- conventions

CELL = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "10"]
#: 100 fast x 60 slow pixels of 0.1 mm: detsize_f = 10 mm, detsize_s = 6 mm.
NONSQUARE = ["-detpixels_f", "100", "-detpixels_s", "60", "-pixel", "0.1"]
PX = 0.1e-3
DETSIZE_F, DETSIZE_S = 10e-3, 6e-3


def resolve(*args):
    config, raw = resolve_arguments(CELL + NONSQUARE + list(args))
    return config, raw


#: beam, fdet, sdet, odet, twotheta axis, polar, spindle (nanoBragg.c L1172-1257), and the forced pivot.
CONVENTION_TABLE = {
    "-adxv": (Convention.ADXV, (0, 0, 1), (1, 0, 0), (0, -1, 0), (0, 0, 1), (-1, 0, 0), (1, 0, 0), (1, 0, 0), Pivot.BEAM),
    "-mosflm": (Convention.MOSFLM, (1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1), (0, 0, 1), Pivot.BEAM),
    "-denzo": (Convention.DENZO, (1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1), (0, 0, 1), Pivot.BEAM),
    "-xds": (Convention.XDS, (0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (1, 0, 0), (1, 0, 0), Pivot.SAMPLE),
    "-dials": (Convention.DIALS, (0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 1, 0), (0, 1, 0), Pivot.SAMPLE),
}


@pytest.mark.parametrize("flag", list(CONVENTION_TABLE))
def test_convention_axes(flag):
    convention, beam, fdet, sdet, odet, twotheta_axis, polar, spindle, pivot = CONVENTION_TABLE[flag]
    # a contrary -pivot before the convention flag must not matter: the convention block forces it
    contrary = "beam" if pivot == Pivot.SAMPLE else "sample"
    config, _ = resolve("-pivot", contrary, flag)
    d = config.detector
    assert d.convention == convention
    assert d.pivot == pivot
    assert tuple(d.beam_vector) == beam
    assert tuple(d.fdet_vector) == fdet
    assert tuple(d.sdet_vector) == sdet
    assert tuple(d.odet_vector) == odet
    assert tuple(d.twotheta_axis) == twotheta_axis
    assert tuple(d.polar_vector) == polar
    assert tuple(d.spindle_vector) == spindle
    geometry = geometry_of(config)
    for vector, expected in ((geometry.fdet, fdet), (geometry.sdet, sdet), (geometry.odet, odet), (geometry.beam, beam)):
        assert vector.tolist() == list(map(float, expected))


def test_default_convention_is_mosflm_with_beam_pivot():
    config, raw = resolve()
    assert raw.convention == Convention.MOSFLM
    assert config.detector.convention == Convention.MOSFLM
    assert config.detector.pivot == Pivot.BEAM


def test_custom_convention_defaults():
    """Any vector flag gives CUSTOM; unset vectors keep the C's initial values (twotheta axis +y)."""
    config, _ = resolve("-spindle_axis", "0", "0", "1")
    d = config.detector
    assert d.convention == Convention.CUSTOM
    assert tuple(d.beam_vector) == (1, 0, 0)
    assert tuple(d.fdet_vector) == (0, 0, 1)
    assert tuple(d.sdet_vector) == (0, -1, 0)
    assert tuple(d.odet_vector) == (1, 0, 0)
    assert tuple(d.twotheta_axis) == (0, 1, 0)
    assert tuple(d.polar_vector) == (0, 0, 1)


def _approx(value):
    return pytest.approx(value, rel=1e-12, abs=1e-18)


def test_mosflm_default_beam_centre_half_pixel():
    """MOSFLM: Xbeam (slow) = (detsize_s + px)/2, Ybeam (fast) = (detsize_f + px)/2, F/Sbeam add px/2."""
    geometry = geometry_of(resolve("-mosflm")[0])
    xbeam, ybeam = (DETSIZE_S + PX) / 2, (DETSIZE_F + PX) / 2
    assert float(geometry.Xbeam) == _approx(xbeam)
    assert float(geometry.Ybeam) == _approx(ybeam)
    assert float(geometry.Fbeam) == _approx(ybeam + PX / 2)
    assert float(geometry.Sbeam) == _approx(xbeam + PX / 2)


def test_mosflm_given_beam_centre():
    geometry = geometry_of(resolve("-Xbeam", "4", "-Ybeam", "6")[0])
    assert float(geometry.Fbeam) == _approx(6e-3 + PX / 2)
    assert float(geometry.Sbeam) == _approx(4e-3 + PX / 2)


def test_adxv_default_beam_centre():
    """ADXV: Xbeam = (detsize_f + px)/2, Ybeam = (detsize_s - px)/2; Fbeam = Xbeam, Sbeam = detsize_s - Ybeam."""
    geometry = geometry_of(resolve("-adxv")[0])
    xbeam, ybeam = (DETSIZE_F + PX) / 2, (DETSIZE_S - PX) / 2
    assert float(geometry.Xbeam) == _approx(xbeam)
    assert float(geometry.Ybeam) == _approx(ybeam)
    assert float(geometry.Fbeam) == _approx(xbeam)
    assert float(geometry.Sbeam) == _approx(DETSIZE_S - ybeam)


def test_adxv_given_beam_centre():
    geometry = geometry_of(resolve("-adxv", "-Xbeam", "4", "-Ybeam", "2")[0])
    assert float(geometry.Fbeam) == _approx(4e-3)
    assert float(geometry.Sbeam) == _approx(DETSIZE_S - 2e-3)


def test_denzo_beam_centre_has_no_half_pixel_shift():
    geometry = geometry_of(resolve("-denzo")[0])
    xbeam, ybeam = (DETSIZE_S + PX) / 2, (DETSIZE_F + PX) / 2
    assert float(geometry.Fbeam) == _approx(ybeam)
    assert float(geometry.Sbeam) == _approx(xbeam)
    geometry = geometry_of(resolve("-denzo", "-Xbeam", "4", "-Ybeam", "6")[0])
    assert float(geometry.Fbeam) == _approx(6e-3)
    assert float(geometry.Sbeam) == _approx(4e-3)


@pytest.mark.parametrize("flag", ["-xds", "-dials"])
def test_xds_dials_near_point_defaults_to_detector_centre(flag):
    config, _ = resolve(flag)
    assert config.detector.pivot == Pivot.SAMPLE
    geometry = geometry_of(config)
    assert float(geometry.Fclose) == _approx(DETSIZE_F / 2)
    assert float(geometry.Sclose) == _approx(DETSIZE_S / 2)
    # beam along the normal: the direct beam hits the near point; Xbeam defaults to Xclose
    assert float(geometry.Fbeam) == _approx(DETSIZE_F / 2)
    assert float(geometry.Sbeam) == _approx(DETSIZE_S / 2)
    assert float(geometry.Xbeam) == _approx(DETSIZE_F / 2)
    assert float(geometry.Ybeam) == _approx(DETSIZE_S / 2)


@pytest.mark.parametrize("flag", ["-xds", "-dials"])
def test_xds_dials_orgx_orgy_set_near_point(flag):
    geometry = geometry_of(resolve(flag, "-ORGX", "40", "-ORGY", "20")[0])
    assert float(geometry.Fclose) == _approx((40 - 0.5) * PX)
    assert float(geometry.Sclose) == _approx((20 - 0.5) * PX)
    assert float(geometry.ORGX) == _approx(40.0)
    assert float(geometry.ORGY) == _approx(20.0)


@pytest.mark.parametrize("flag", ["-xds", "-dials"])
def test_xds_dials_xbeam_is_only_reported(flag):
    """With the SAMPLE pivot -Xbeam/-Ybeam change the printed Xbeam/Ybeam, not the geometry."""
    plain = geometry_of(resolve(flag)[0])
    moved = geometry_of(resolve(flag, "-Xbeam", "3", "-Ybeam", "2")[0])
    assert float(moved.Xbeam) == _approx(3e-3)
    assert float(moved.Ybeam) == _approx(2e-3)
    assert torch.equal(moved.pix0, plain.pix0)


def test_custom_beam_centre_has_no_half_pixel_shift():
    geometry = geometry_of(resolve("-fdet_vector", "0", "0", "1")[0])
    assert float(geometry.Fbeam) == _approx(DETSIZE_F / 2)
    assert float(geometry.Sbeam) == _approx(DETSIZE_S / 2)
    geometry = geometry_of(resolve("-fdet_vector", "0", "0", "1", "-Xclose", "3", "-Yclose", "2", "-pivot", "beam")[0])
    assert float(geometry.Fbeam) == _approx(3e-3)
    assert float(geometry.Sbeam) == _approx(2e-3)


def test_mosflm_pix0_from_beam_centre():
    """BEAM pivot: pix0 = -Fbeam f - Sbeam s + distance beam."""
    geometry = geometry_of(resolve("-distance", "120")[0])
    fbeam, sbeam = (DETSIZE_F + PX) / 2 + PX / 2, (DETSIZE_S + PX) / 2 + PX / 2
    expected = -fbeam * np.array([0, 0, 1]) - sbeam * np.array([0, -1, 0]) + 0.12 * np.array([1, 0, 0])
    np.testing.assert_allclose(geometry.pix0.numpy(), expected, rtol=1e-14, atol=1e-18)
    np.testing.assert_allclose(geometry.dials_origin_mm.numpy(), 1000 * np.array([expected[2], expected[1], -expected[0]]),
                               rtol=1e-14)


# ----------------------------------------------------------------------------- pivot selection

CUSTOM = ["-fdet_vector", "0", "0", "1"]


@pytest.mark.parametrize("args, pivot", [
    ([], Pivot.BEAM),
    (["-pivot", "sample"], Pivot.SAMPLE),
    (["-pivot", "sample", "-pivot", "beam"], Pivot.BEAM),
    (["-twotheta", "5"], Pivot.SAMPLE),
    (["-twotheta", "5", "-Xbeam", "5"], Pivot.BEAM),
    (["-Xbeam", "5", "-twotheta", "5"], Pivot.SAMPLE),
    (["-close_distance", "100"], Pivot.SAMPLE),
    (["-Xclose", "5"], Pivot.SAMPLE),
    (["-Yclose", "5"], Pivot.SAMPLE),
    (["-ORGX", "50"], Pivot.SAMPLE),
    (["-ORGY", "50"], Pivot.SAMPLE),
    (["-Ybeam", "5"], Pivot.BEAM),
    (["-pivot", "sample", "-distance", "100"], Pivot.BEAM),
    (["-distance", "100", "-pivot", "sample"], Pivot.SAMPLE),
    (["-twotheta_axis", "0", "1", "0"], Pivot.SAMPLE),
    (["-xds", "-fdet_vector", "1", "0", "0"], Pivot.SAMPLE),
    (["-dials", "-fdet_vector", "1", "0", "0"], Pivot.BEAM),
])
def test_pivot_in_custom_convention_follows_flags(args, pivot):
    config, _ = resolve(*CUSTOM, *args)
    assert config.detector.convention == Convention.CUSTOM
    assert config.detector.pivot == pivot


@pytest.mark.parametrize("args, pivot", [
    (["-pivot", "sample"], Pivot.BEAM),
    (["-twotheta", "5"], Pivot.BEAM),
    (["-close_distance", "100"], Pivot.BEAM),
    (["-xds", "-pivot", "beam"], Pivot.SAMPLE),
    (["-xds", "-Xbeam", "5"], Pivot.SAMPLE),
    (["-dials"], Pivot.SAMPLE),
    (["-adxv", "-twotheta", "3"], Pivot.BEAM),
    (["-denzo", "-ORGX", "3"], Pivot.BEAM),
])
def test_named_convention_forces_pivot(args, pivot):
    config, _ = resolve(*args)
    assert config.detector.pivot == pivot


def test_pivot_choice_keeps_the_right_point_fixed():
    """SAMPLE pivot keeps (Fclose, Sclose, close_distance); BEAM pivot keeps (Fbeam, Sbeam, distance)."""
    rotations = ["-detector_rotx", "3", "-detector_roty", "-4", "-detector_rotz", "5"]
    plain_sample = geometry_of(resolve(*CUSTOM, "-close_distance", "100", "-pivot", "sample")[0])
    turned_sample = geometry_of(resolve(*CUSTOM, *rotations, "-close_distance", "100", "-pivot", "sample")[0])
    for name in ("Fclose", "Sclose", "close_distance"):
        assert float(getattr(turned_sample, name)) == pytest.approx(float(getattr(plain_sample, name)), rel=1e-12)
    assert float(turned_sample.Fbeam) != pytest.approx(float(plain_sample.Fbeam), rel=1e-6)

    plain_beam = geometry_of(resolve(*CUSTOM, "-pivot", "beam")[0])
    turned_beam = geometry_of(resolve(*CUSTOM, *rotations, "-pivot", "beam")[0])
    for name in ("Fbeam", "Sbeam", "distance"):
        assert float(getattr(turned_beam, name)) == pytest.approx(float(getattr(plain_beam, name)), rel=1e-12)
    assert float(turned_beam.Fclose) != pytest.approx(float(plain_beam.Fclose), rel=1e-6)
    # the detector axes are rotated the same way in both pivots
    for axis in ("fdet", "sdet", "odet"):
        assert torch.allclose(getattr(turned_sample, axis), getattr(turned_beam, axis), rtol=0, atol=1e-15)


def test_sample_pivot_rotates_pix0_rigidly():
    """SAMPLE pivot: pix0 = R(-Fclose f - Sclose s + close_distance o) with R = twotheta o Rz Ry Rx."""
    config, _ = resolve(*CUSTOM, "-close_distance", "80", "-detector_rotz", "90", "-pivot", "sample")
    geometry = geometry_of(config)
    fclose, sclose = DETSIZE_F / 2, DETSIZE_S / 2
    unrotated = -fclose * np.array([0, 0, 1.0]) - sclose * np.array([0, -1.0, 0]) + 0.08 * np.array([1.0, 0, 0])
    rz = np.array([[0, -1.0, 0], [1.0, 0, 0], [0, 0, 1.0]])
    np.testing.assert_allclose(geometry.pix0.numpy(), rz @ unrotated, rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- r = b . o

def test_distance_is_along_the_beam_with_rotations():
    """-distance gives the beam-path distance; close_distance = ratio * distance, ratio = beam . R(odet)."""
    config, _ = resolve("-distance", "100", "-detector_roty", "10")
    geometry = geometry_of(config)
    ratio = math.cos(math.radians(10))
    assert float(geometry.ratio) == pytest.approx(ratio, rel=1e-14)
    assert float(geometry.distance) == pytest.approx(0.1, rel=1e-14)
    assert float(geometry.close_distance) == pytest.approx(0.1 * ratio, rel=1e-14)


def test_close_distance_overrides_distance_with_rotations():
    config, _ = resolve("-distance", "50", "-close_distance", "100", "-detector_roty", "10")
    assert config.detector.distance_mm is None
    assert config.detector.close_distance_mm == 100.0
    geometry = geometry_of(config)
    ratio = math.cos(math.radians(10))
    assert float(geometry.close_distance) == pytest.approx(0.1, rel=1e-14)
    assert float(geometry.distance) == pytest.approx(0.1 / ratio, rel=1e-14)


def test_distance_ratio_excludes_twotheta():
    """The ratio is taken before the two-theta swing: under MOSFLM (BEAM pivot) the reported distance is d cos(2theta)."""
    geometry = geometry_of(resolve("-distance", "100", "-twotheta", "15")[0])
    assert float(geometry.ratio) == 1.0
    assert float(geometry.close_distance) == pytest.approx(0.1 * math.cos(math.radians(15)), rel=1e-14)
    assert float(geometry.distance) == pytest.approx(0.1 * math.cos(math.radians(15)), rel=1e-14)


def test_xds_close_distance_is_kept_under_twotheta():
    geometry = geometry_of(resolve("-xds", "-close_distance", "120", "-twotheta", "8")[0])
    assert float(geometry.close_distance) == pytest.approx(0.12, rel=1e-14)
    assert float(geometry.distance) == pytest.approx(0.12, rel=1e-14)


def test_geometry_is_differentiable_in_distance_and_rotation():
    config, _ = resolve("-detector_roty", "10")
    params = _initial_params(config.detector)
    for name in ("distance", "detector_roty"):
        params[name].requires_grad_(True)
    geometry = detector_geometry(config.detector, params)
    geometry.close_distance.backward()
    # close_distance = distance/1000 * cos(roty)
    assert float(params["distance"].grad) == pytest.approx(math.cos(math.radians(10)) / 1000, rel=1e-12)
    assert float(params["detector_roty"].grad) == pytest.approx(-0.1 * math.sin(math.radians(10)) * math.pi / 180, rel=1e-10)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("args, words", [
    (["-fdet_vector", "0", "0", "1", "-sdet_vector", "0", "0", "-1"], ["parallel"]),
    (["-fdet_vector", "0", "0", "1", "-sdet_vector", "0", "0", "3"], ["parallel"]),
    (["-fdet_vector", "0", "0", "0"], ["fdet_vector"]),
    (["-sdet_vector", "0", "0", "0"], ["sdet_vector"]),
    (["-beam_vector", "0", "0", "0"], ["beam_vector"]),
    (["-polar_vector", "0", "0", "0"], ["polar_vector"]),
    (["-spindle_axis", "0", "0", "0"], ["spindle_axis"]),
    (["-fdet_vector", "0", "0", "1", "-sdet_vector", "0", "0", "1", "-odet_vector", "0", "0", "0"], ["odet_vector"]),
])
def test_degenerate_detector_vectors_raise(args, words):
    with pytest.raises(InputError) as error:
        resolve_arguments(CELL + args)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("args", [
    ["-beam_vector", "0", "0", "1"],
    ["-beam_vector", "0", "1", "0", "-polar_vector", "0", "1", "0"],
])
def test_beam_parallel_to_detector_plane_is_a_clear_error(args):
    """The C divides by DBL_MIN and renders nothing (distance 0); torch_sim reports impossible geometry."""
    with pytest.raises(InputError, match="beam does not meet the detector plane"):
        resolve_arguments(CELL + ["-detpixels", "16"] + args)


@pytest.mark.parametrize("args", [
    ["-detpixels", "-5"],
    ["-detpixels_f", "-5"],
    ["-detpixels_s", "-1"],
    ["-detsize", "0"],
    ["-detsize_f", "0.04", "-pixel", "0.1"],
])
def test_non_positive_pixel_counts_raise(args):
    with pytest.raises(InputError, match="pixels"):
        resolve_arguments(CELL + args)


def test_zero_detpixels_means_not_given():
    """C: ``if(fpixels)`` — a count of 0 falls back to detsize/pixel (102.4 mm / 0.1 mm)."""
    config, _ = resolve_arguments(CELL + ["-detpixels", "0"])
    assert (config.detector.fpixels, config.detector.spixels) == (1024, 1024)


def test_detsize_rounds_to_whole_pixels():
    config, _ = resolve_arguments(CELL + ["-detsize_f", "10.04", "-detsize_s", "10.06", "-pixel", "0.1"])
    # ceil(detsize/pixel - 0.5)
    assert (config.detector.fpixels, config.detector.spixels) == (100, 101)


@pytest.mark.parametrize("value", ["foo", "around", "x"])
def test_unknown_pivot_value_raises(value):
    with pytest.raises(InputError) as error:
        resolve_arguments(CELL + ["-pivot", value])
    assert "-pivot" in str(error.value)
    assert value in str(error.value)


@pytest.mark.parametrize("value, pivot", [
    ("sample", Pivot.SAMPLE),
    ("beam", Pivot.BEAM),
    ("sample_pivot", Pivot.SAMPLE),
    ("samplebeam", Pivot.BEAM),
])
def test_pivot_values_matched_by_substring(value, pivot):
    """C: strstr(value, "sample") then strstr(value, "beam") (the second wins when both are in it)."""
    config, raw = resolve_arguments(CELL + CUSTOM + ["-pivot", value])
    assert raw.pivot == pivot
