"""The nanoBragg command line: the C argument loop's substring matching and side effects,
defaults, unit conversions, torch_sim's own flags and the errors for bad input.

References are to nanoBragg.c's argument loop (L505-1116) and its defaults logic
(L1118-1257, L1790-1800).
"""

import dataclasses
import math

import pytest

from torch_sim.cli.main import main
from torch_sim.config.enums import Convention, CrystalShape, Pivot
from torch_sim.config.nanobragg_flags import apply_flags
from torch_sim.config.raw_arguments import RawArguments
from torch_sim.config.resolve import parse_arguments, resolve_arguments
from torch_sim.errors import InputError

CELL = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "10"]
SMALL = ["-detpixels", "8"]


def flags(*argv) -> RawArguments:
    return apply_flags(list(argv), RawArguments())


def changed_fields(raw: RawArguments) -> dict:
    """Fields that differ from a fresh RawArguments()."""
    default = RawArguments()
    return {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw) if getattr(raw, f.name) != getattr(default, f.name)}


# ----------------------------------------------------------------------------- substring side effects

def test_misset_seed_also_sets_fixed_misset_angles():
    """'-misset_seed' contains '-misset': the C reads the three following arguments with atof."""
    raw = flags("-misset_seed", "5", "-Xbeam", "7")
    assert raw.misset_seed == -5
    assert raw.misset_deg == (5.0, 0.0, 7.0)  # atof("-Xbeam") == 0
    assert raw.misset_random is False
    assert raw.Xbeam_mm == 7.0


def test_misset_seed_at_the_end_has_no_misset_side_effect():
    raw = flags("-misset_seed", "5")
    assert raw.misset_seed == -5
    assert raw.misset_deg is None


def test_misset_seed_before_random_keeps_random():
    raw = flags("-misset_seed", "-777", "-misset", "random")
    assert raw.misset_seed == 777
    assert raw.misset_random is True


def test_misset_random_before_seed_is_overridden_by_fixed_angles():
    raw = flags("-misset", "random", "-misset_seed", "5", "1", "2")
    assert raw.misset_random is False
    assert raw.misset_deg == (5.0, 1.0, 2.0)
    assert raw.misset_seed == -5


def test_misset_angles_and_random():
    assert flags("-misset", "10", "20", "30").misset_deg == (10.0, 20.0, 30.0)
    raw = flags("-misset", "10", "20", "30", "-misset", "random")
    assert raw.misset_random is True
    raw = flags("-misset", "random", "-misset", "1", "2", "3")
    assert raw.misset_random is False
    assert raw.misset_deg == (1.0, 2.0, 3.0)


def test_random_misset_order_decides_the_orientation():
    base = CELL + SMALL
    random_first, _ = resolve_arguments(base + ["-misset_seed", "-777", "-misset", "random"])
    assert random_first.random_misset_deg is not None
    assert random_first.crystal.misset_deg == random_first.random_misset_deg
    fixed_last, _ = resolve_arguments(base + ["-misset", "random", "-misset_seed", "5", "1", "2"])
    assert fixed_last.random_misset_deg is None
    assert fixed_last.crystal.misset_deg == (5.0, 1.0, 2.0)


def test_twotheta_axis_also_sets_twotheta_and_sample_pivot():
    raw = flags("-twotheta_axis", "5", "0", "0")
    assert raw.twotheta_axis == (5.0, 0.0, 0.0)  # not normalised
    assert raw.twotheta_deg == 5.0  # the first value is also read as -twotheta
    assert raw.pivot == Pivot.SAMPLE
    assert raw.convention == Convention.CUSTOM


def test_twotheta_before_twotheta_axis_is_overwritten():
    raw = flags("-twotheta", "5", "-twotheta_axis", "0", "1", "0")
    assert raw.twotheta_deg == 0.0
    raw = flags("-twotheta_axis", "0", "1", "0", "-twotheta", "5")
    assert raw.twotheta_deg == 5.0


def test_printout_pixel_also_sets_printout():
    raw = flags("-printout_pixel", "3", "4")
    assert raw.printout is True
    assert raw.printout_pixel == (3, 4)
    assert flags("-printout").printout_pixel is None


@pytest.mark.parametrize("flag, convention, pivot", [
    ("-mosflm", Convention.MOSFLM, Pivot.BEAM),
    ("-xds", Convention.XDS, Pivot.SAMPLE),
    ("-adxv", Convention.ADXV, Pivot.BEAM),
    ("-denzo", Convention.DENZO, Pivot.BEAM),
    ("-dials", Convention.DIALS, Pivot.BEAM),  # the convention block later forces SAMPLE
])
def test_convention_flags_set_pivot(flag, convention, pivot):
    raw = flags("-pivot", "sample" if pivot == Pivot.BEAM else "beam", flag)
    assert raw.convention == convention
    assert raw.pivot == pivot


@pytest.mark.parametrize("flag, field", [
    ("-fdet_vector", "fdet_vector"), ("-sdet_vector", "sdet_vector"), ("-odet_vector", "odet_vector"),
    ("-beam_vector", "beam_vector"), ("-polar_vector", "polar_vector"), ("-spindle_axis", "spindle_vector"),
    ("-twotheta_axis", "twotheta_axis"), ("-pix0_vector", "pix0_vector_m"),
])
def test_vector_flags_switch_to_custom(flag, field):
    raw = flags("-xds", flag, "0.1", "0.2", "0.3")
    assert raw.convention == Convention.CUSTOM
    assert getattr(raw, field) == (0.1, 0.2, 0.3)
    # a later convention flag switches back
    assert flags(flag, "0.1", "0.2", "0.3", "-adxv").convention == Convention.ADXV


def test_pix0_vector_has_no_effect_on_the_geometry():
    from torch_sim.functional.detector_geometry import detector_geometry
    from torch_sim.modules.detector import Detector

    plain, _ = resolve_arguments(CELL + SMALL + ["-fdet_vector", "0", "0", "1"])
    moved, _ = resolve_arguments(CELL + SMALL + ["-fdet_vector", "0", "0", "1", "-pix0_vector", "0.5", "0.5", "0.5"])
    geometry = lambda c: detector_geometry(c.detector, Detector(c.detector).params)
    assert geometry(plain).pix0.tolist() == geometry(moved).pix0.tolist()


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("3.9", 3.0), ("7.0001", 7.0), ("-2", -2.0)])
def test_N_truncates_like_atoi(value, expected):
    raw = flags("-N", value)
    assert (raw.Na, raw.Nb, raw.Nc) == (expected,) * 3


def test_Na_Nb_Nc_are_separate_and_truncated():
    raw = flags("-Na", "3.5", "-Nb", "5", "-Nc", "7.99")
    assert (raw.Na, raw.Nb, raw.Nc) == (3.0, 5.0, 7.0)
    raw = flags("-N", "4", "-Nb", "2")
    assert (raw.Na, raw.Nb, raw.Nc) == (4.0, 2.0, 4.0)


def test_N_truncation_reaches_the_crystal():
    config, _ = resolve_arguments(CELL + SMALL + ["-N", "3.9"])
    assert config.crystal.N_cells == (3.0, 3.0, 3.0)


@pytest.mark.parametrize("argv, field, value", [
    (["-oversample_omega", "-oversample", "2"], "oversample", 2),  # the oversample_* branches 'continue'
    (["-detector_thicksteps", "3"], "detector_thick_um", 0.0),  # -detector_thick needs strlen 15
    (["-hdivsteps", "3"], "hdivstep_mrad", None),  # -hdivstep needs strlen 9
    (["-phisteps", "3"], "phistep_deg", None),  # -phistep needs strlen 8
    (["-phisteps", "3"], "phi0_deg", 0.0),  # -phi needs strlen 4
    (["-polar_vector", "0", "1", "0"], "polarization", 0.0),  # -polar needs strlen 6
    (["-mosaic_domains", "3"], "mosaic_spread_deg", None),  # -mosaic needs strlen 7
    (["-mosaic_spread", "0.5"], "mosaic_spread_deg", 0.5),
    (["-mosaic_seed", "9"], "seed", None),
    (["-mosaic_seed", "9"], "mosaic_seed", -9),
    (["-seed", "9"], "seed", -9),
    (["-detsize_f", "20"], "detsize_s_mm", 102.4),  # -detsize needs strlen 8
    (["-detpixels_f", "20"], "spixels", 0),  # -detpixels needs strlen 10
    (["-divergence", "2"], "vdivrange_mrad", 2.0),
    (["-divsteps", "3"], "hdivsteps", 3),
    (["-xtalsize", "0.5"], "sample_size_mm", [0.5, 0.5, 0.5]),
    (["-wavelength", "1.5"], "lambda0_A", 1.5),
    (["-pgmfile", "x.pgm", "-nopgm"], "write_pgm", False),
    (["-nopgm", "-pgmfile", "x.pgm"], "write_pgm", True),
    (["-noisefile", "n.img"], "calculate_noise", True),
    (["-nointerpolate"], "interpolate", 0),
    (["-interpolate"], "interpolate", 1),
    (["-tophat_spots"], "xtal_shape", CrystalShape.TOPHAT),
    (["-polar", "0.6"], "polarization", 0.6),
    (["-polar", "0.6", "-nopolar"], "nopolar", True),
    (["-nopolar", "-polar", "0.6"], "nopolar", False),
])
def test_substring_and_length_rules(argv, field, value):
    assert getattr(flags(*argv), field) == value


def test_negative_number_is_a_value_not_a_flag():
    raw = flags("-Xbeam", "-5", "-detector_rotx", "-1.5e1")
    assert raw.Xbeam_mm == -5.0
    assert raw.detector_rot_deg[0] == -15.0


def test_header_flags_are_known_but_not_read_by_the_flag_loop():
    raw = flags("-mask", "nonexistent.img", "-img", "nonexistent.img")
    assert raw.imginfilename == "nonexistent.img"


# ----------------------------------------------------------------------------- values and defaults

@pytest.mark.parametrize("cell, expected", [
    (["50"], (50, 50, 50, 90, 90, 90)),
    (["50", "60"], (50, 60, 50, 90, 90, 90)),
    (["50", "60", "70"], (50, 60, 70, 90, 90, 90)),
    (["50", "60", "70", "100"], (50, 60, 70, 100, 90, 90)),
    (["50", "60", "70", "100", "80"], (50, 60, 70, 100, 80, 90)),
    (["50", "60", "70", "0", "0", "120"], (50, 60, 70, 90, 90, 120)),
    (["50", "0", "0", "95", "95", "95"], (50, 50, 50, 95, 95, 95)),
])
def test_cell_partial_values_and_defaults(cell, expected):
    config, raw = resolve_arguments(["-cell", *cell, "-default_F", "10"] + SMALL)
    assert raw.user_cell is True
    assert config.crystal.cell_A_deg == pytest.approx(expected)


def test_cell_stops_at_the_next_flag():
    raw = flags("-cell", "50", "60", "-N", "3")
    assert raw.cell[:3] == [50.0, 60.0, 0.0]
    assert raw.Na == 3.0


def test_detector_abs_inf_zeroes_the_thickness():
    raw = flags("-detector_thick", "100", "-detector_abs", "inf")
    assert (raw.detector_thick_um, raw.detector_mu_per_m) == (0.0, 0.0)
    config, _ = resolve_arguments(CELL + SMALL + ["-detector_thick", "100", "-detector_abs", "inf"])
    assert config.detector.thicksteps == 1
    assert config.detector.thickness_um == 0.0


def test_detector_abs_inf_before_thickness_leaves_a_non_absorbing_sensor():
    raw = flags("-detector_abs", "inf", "-detector_thick", "100")
    assert (raw.detector_thick_um, raw.detector_mu_per_m) == (100.0, 0.0)
    config, _ = resolve_arguments(CELL + SMALL + ["-detector_abs", "inf", "-detector_thick", "100"])
    assert config.detector.thickness_um == 100.0
    assert config.detector.abs_depth_um == math.inf


@pytest.mark.parametrize("value", ["0", "0.0", "inf", "infinity", "+inf"])
def test_detector_abs_zero_or_inf_text(value):
    """C: strstr(value, "inf") || atof(value) == 0 -> thickness 0 and mu 0."""
    raw = flags("-detector_thick", "100", "-detector_abs", value)
    assert (raw.detector_thick_um, raw.detector_mu_per_m) == (0.0, 0.0)


def test_detector_abs_inf_printout_keeps_mu_zero():
    from torch_sim.cli import report
    from torch_sim.modules.simulator import Simulator

    config, raw = resolve_arguments(CELL + SMALL + ["-detector_thick", "100", "-detector_abs", "inf"])
    lines = report.preamble_lines(Simulator(config), raw)
    assert "  sensor is 0 m thick in 1 layers with mu= 0" in lines


def test_detector_abs_capitalised_inf_is_rejected():
    """'Inf' does not contain "inf" (strstr is case sensitive); the C's atof would give mu = 0 with the
    thickness kept, torch_sim rejects the non-finite value."""
    with pytest.raises(InputError, match="-detector_abs"):
        flags("-detector_thick", "100", "-detector_abs", "Inf")


def test_detector_abs_depth():
    raw = flags("-detector_abs", "300")
    assert raw.detector_mu_per_m == pytest.approx(1.0 / 300e-6, rel=1e-15)
    config, _ = resolve_arguments(CELL + SMALL + ["-detector_thick", "100", "-detector_abs", "300"])
    assert config.detector.abs_depth_um == pytest.approx(300.0, rel=1e-12)


def test_detector_thickness_without_depth_warns_like_the_c():
    config, _ = resolve_arguments(CELL + SMALL + ["-detector_thick", "100"])
    assert ("steps", "WARNING: setting detector attenuation depth to 10000 m") in config.messages
    assert config.detector.abs_depth_um is None


@pytest.mark.parametrize("argv, shape", [
    (["-detsize", "50", "-pixel", "0.1"], (500, 500)),
    (["-detpixels", "100", "-detsize", "50"], (100, 100)),
    (["-detsize", "50", "-detpixels", "100"], (100, 100)),
    (["-detsize_f", "20", "-detsize_s", "10"], (100, 200)),
    (["-detsize_f", "20", "-detpixels_s", "30"], (30, 200)),
    (["-detpixels_x", "64", "-detpixels_y", "32"], (32, 64)),
    (["-pixel", "0.2"], (512, 512)),
    (["-detpixels", "100", "-pixel", "0.2"], (100, 100)),
    ([], (1024, 1024)),
])
def test_detsize_versus_detpixels(argv, shape):
    config, _ = resolve_arguments(CELL + argv)
    assert config.detector.shape == shape


def test_detpixels_set_the_detector_size():
    config, _ = resolve_arguments(CELL + ["-detpixels", "100", "-detsize", "50", "-pixel", "0.2"])
    assert config.detector.detsize_f_mm is None  # pixel_size * pixel count
    config, _ = resolve_arguments(CELL + ["-detsize", "50", "-pixel", "0.2"])
    assert config.detector.detsize_f_mm == 50.0


@pytest.mark.parametrize("energy, wavelength", [("12398.42", 1.0), ("10000", 1.239842), ("6199.21", 2.0)])
def test_energy_to_wavelength(energy, wavelength):
    assert flags("-energy", energy).lambda0_A == pytest.approx(wavelength, rel=1e-15)


def test_energy_and_lambda_last_wins():
    assert flags("-lambda", "2", "-energy", "12398.42").lambda0_A == 1.0
    assert flags("-energy", "12398.42", "-lambda", "2").lambda0_A == 2.0


def test_defaults_of_an_empty_command_line():
    raw = flags()
    assert changed_fields(raw) == {}
    assert (raw.Na, raw.distance_mm, raw.pixel_size_mm, raw.lambda0_A) == (1.0, 100.0, 0.1, 1.0)
    assert raw.mosaic_seed == -12345678
    assert raw.convention == Convention.MOSFLM and raw.pivot == Pivot.BEAM


def test_flux_gives_fluence():
    config, _ = resolve_arguments(CELL + SMALL + ["-flux", "1e12", "-exposure", "0.5", "-beamsize", "0.05"])
    assert config.beam.fluence == pytest.approx(1e12 * 0.5 / 0.05e-3 / 0.05e-3, rel=1e-15)


# ----------------------------------------------------------------------------- torch_sim's own flags

@pytest.mark.parametrize("argv, expected", [
    (["-dtype", "float32"], {"dtype": "float32"}),
    (["-dtype", "float64"], {}),
    (["-device", "cpu"], {}),
    (["-device", "cuda:1"], {"device": "cuda:1"}),
    (["-memory_mb", "64"], {"memory_budget_mb": 64.0}),
    (["-compile"], {"compile": True}),
    (["-hdf5file", "out.h5"], {"hdf5filename": "out.h5"}),
    (["-phi_zero_rotates"], {"phi_zero_rotates": True}),
    (["-source_weights"], {"use_source_weights": True}),
    (["-interpolation_fallback", "local"], {"interpolation_fallback": "local"}),
    (["-noise_method", "torch"], {"noise_method": "torch"}),
])
def test_torch_sim_flags_touch_only_their_own_field(argv, expected):
    assert changed_fields(flags(*argv)) == expected


@pytest.mark.parametrize("flag", ["-dtypes", "-compiled", "-phi_zero", "-source_weight", "-memory"])
def test_torch_sim_flags_are_matched_exactly(flag):
    with pytest.raises(InputError, match="unknown flag"):
        flags(flag, "1")


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("argv, words", [
    (["-foo"], ["unknown flag", "-foo"]),
    (["-foo", "3"], ["-foo"]),
    (["-distance"], ["-distance"]),
    (["-cell", "70", "80", "90", "90", "90", "90", "-lambda"], ["-lambda"]),
    (["-misset", "1", "2"], ["-misset"]),
    (["-roi", "1", "2", "3"], ["-roi"]),
    (["-printout_pixel", "3"], ["-printout_pixel"]),
    (["-lambda", "abc"], ["-lambda", "abc"]),
    (["-lambda", "nan"], ["-lambda"]),
    (["-lambda", "inf"], ["-lambda"]),
    (["-lambda", "0"], ["-lambda"]),
    (["-lambda", "-1"], ["-lambda"]),
    (["-distance", "-pixel", "0.1"], ["-distance", "-pixel"]),
    (["-N", "abc"], ["-N", "abc"]),
    (["-N", "3x"], ["-N"]),
    (["-cell", "70", "eighty"], ["-cell", "eighty"]),
    (["-pixel", "0"], ["-pixel"]),
    (["-dtype", "float16"], ["-dtype", "float16"]),
    (["-dtype"], ["-dtype"]),
    (["-interpolation_fallback", "nearest"], ["-interpolation_fallback", "nearest"]),
    (["-noise_method", "numpy"], ["-noise_method"]),
    (["-memory_mb", "-5"], ["-memory_mb"]),
    (["-pivot", "foo"], ["-pivot", "foo"]),
])
def test_bad_flags_raise_input_error_naming_the_flag(argv, words):
    with pytest.raises(InputError) as error:
        flags(*argv)
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_errors_come_from_parse_arguments_too():
    with pytest.raises(InputError, match="-foo"):
        parse_arguments(CELL + ["-foo"])


@pytest.mark.parametrize("argv", [
    ["-foo"],
    ["-distance"],
    ["-lambda", "abc"],
    ["-dtype", "float16"],
    ["-pivot", "foo"],
    ["-detpixels", "-5"],
    ["-cell", "70", "80", "90", "170", "170", "170"],
    ["-mat", "missing.mat"],
    ["-hkl", "missing.hkl"],
])
def test_main_exits_2_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    base = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "10", "-detpixels", "8", "-noprogress"]
    if argv[0] == "-cell":
        base = base[7:]
    status = main(base + argv)
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("torch-sim: error: ")
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_main_without_arguments_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
