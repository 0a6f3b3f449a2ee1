"""nanoBragg.c's argument loop as a table of rules, with its substring matching.

Every argument that starts with ``-`` is tested against every rule in the C
program's order and each rule that matches acts, as in the C: ``strstr``
matching lets one argument reach several branches (``-misset_seed`` also
enters the ``-misset`` branch, ``-twotheta_axis`` also sets ``-twotheta``,
``-printout_pixel`` also sets ``-printout``). A rule that ends in a C
``continue`` stops the scan for that argument. Unlike the C program, an
argument that matches nothing and is not a number, a flag without its values,
and a malformed value are errors.
"""

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from torch_sim.config.c_numbers import c_atof, is_number, parse_float, parse_int
from torch_sim.config.enums import Convention, CrystalShape, Pivot
from torch_sim.config.raw_arguments import RawArguments
from torch_sim.errors import InputError
from torch_sim.units import HC_EV_ANGSTROM


class _Values:
    """The values after a flag, read strictly or (for substring side effects) like C ``atof``."""

    def __init__(self, flag: str, args: Sequence[str], lenient: bool):
        self.flag, self.args, self.lenient = flag, list(args), lenient

    def float(self, k: int = 0) -> float:
        return c_atof(self.args[k]) if self.lenient else parse_float(self.args[k], self.flag)

    def int(self, k: int = 0) -> int:
        if not self.lenient:
            return parse_int(self.args[k], self.flag)
        value = c_atof(self.args[k])
        if not math.isfinite(value):
            raise InputError(f"{self.flag}: value {self.args[k]!r} is not a finite number")
        return int(value)

    def text(self, k: int = 0) -> str:
        return self.args[k]

    def vector(self) -> tuple[float, float, float]:
        return (self.float(0), self.float(1), self.float(2))


Action = Callable[[RawArguments, _Values], None]


@dataclass
class _Rule:
    matches: Callable[[str], bool]
    nargs: int
    action: Action
    stop: bool = False
    #: The rule applies only when its values satisfy this (C tests on argv[i+1]).
    when: Optional[Callable[[Sequence[str]], bool]] = None
    #: Arguments that reach this rule only by a substring side effect: values read leniently.
    lenient: Callable[[str], bool] = lambda arg: False
    #: The C acts only when another argument follows, although it reads none (-curved_det).
    needs_next: bool = False


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda arg: any(needle in arg for needle in needles)


def _has_len(needle: str, length: int) -> Callable[[str], bool]:
    return lambda arg: needle in arg and len(arg) == length


def _exact(*names: str) -> Callable[[str], bool]:
    return lambda arg: arg in names


def _flag(**fields) -> Action:
    """Set fields to constants (flags without values)."""

    def action(raw, _values):
        for name, value in fields.items():
            setattr(raw, name, value)

    return action


def _number(name: str, kind: str = "float", **also) -> Action:
    """Set ``name`` from the first value (float or C-atoi int) and other fields to constants."""

    def action(raw, values):
        setattr(raw, name, values.float() if kind == "float" else values.int())
        for other, value in also.items():
            setattr(raw, other, value)

    return action


def _numbers(*names: str, kind: str = "float") -> Action:
    """Set several fields from the same first value."""

    def action(raw, values):
        value = values.float() if kind == "float" else values.int()
        for name in names:
            setattr(raw, name, value)

    return action


def _text(name: str, **also) -> Action:
    def action(raw, values):
        setattr(raw, name, values.text())
        for other, value in also.items():
            setattr(raw, other, value)

    return action


def _custom_vector(name: str) -> Action:
    def action(raw, values):
        setattr(raw, name, values.vector())
        raw.convention = Convention.CUSTOM

    return action


def _n_cells(*names: str) -> Action:
    def action(raw, values):
        for name in names:
            setattr(raw, name, float(values.int()))

    return action


def _cell(raw, values):
    """``-cell a b c alpha beta gamma``: reads values until one starts with '-' (as the C)."""
    raw.user_cell = True
    for k, text in enumerate(values.args[:6]):
        if text.startswith("-"):
            break
        raw.cell[k] = values.float(k)


def _misset_angles(raw, values):
    raw.misset_deg = values.vector()
    raw.misset_random = False


def _sample_size(*axes: int) -> Action:
    def action(raw, values):
        for axis in axes:
            raw.sample_size_mm[axis] = values.float()

    return action


def _pivot(raw, values):
    word = values.text()
    if "sample" not in word and "beam" not in word:
        raise InputError(f"{values.flag}: expected 'sample' or 'beam', got {word!r}")
    if "sample" in word:
        raw.pivot = Pivot.SAMPLE
    if "beam" in word:
        raw.pivot = Pivot.BEAM


def _detector_abs(raw, values):
    text = values.text()
    if "inf" in text or c_atof(text) == 0.0:
        raw.detector_thick_um = 0.0
        raw.detector_mu_per_m = 0.0
    else:
        raw.detector_mu_per_m = 1.0 / (values.float() * 1e-6)


def _detector_rot(axis: int) -> Action:
    def action(raw, values):
        raw.detector_rot_deg[axis] = values.float()

    return action


def _roi(raw, values):
    raw.roi = tuple(values.int(k) for k in range(4))


def _energy(raw, values):
    raw.lambda0_A = HC_EV_ANGSTROM / values.float()


def _printout_pixel(raw, values):
    raw.printout_pixel = (values.int(0), values.int(1))


def _seed(name: str) -> Action:
    """The C stores ``-atoi(value)``."""
    return lambda raw, values: setattr(raw, name, -values.int())


def _choice(name: str, choices: tuple) -> Action:
    def action(raw, values):
        if values.text() not in choices:
            raise InputError(f"{values.flag}: expected one of {', '.join(choices)}, got {values.text()!r}")
        setattr(raw, name, values.text())

    return action


def _positive(name: str) -> Action:
    def action(raw, values):
        value = values.float()
        if value <= 0:
            raise InputError(f"{values.flag}: must be positive, got {value:g}")
        setattr(raw, name, value)

    return action


_MISSET_SEED_SIDE_EFFECT = _has("_seed")

#: The C argument loop, branch by branch and in its order.
C_RULES: list[_Rule] = [
    _Rule(_has("-Na"), 1, _n_cells("Na"), stop=True),
    _Rule(_has("-Nb"), 1, _n_cells("Nb"), stop=True),
    _Rule(_has("-Nc"), 1, _n_cells("Nc"), stop=True),
    _Rule(_exact("-N"), 1, _n_cells("Na", "Nb", "Nc"), stop=True),
    _Rule(_has("-cell"), 0, _cell),
    _Rule(_has("-misset"), 1, _flag(misset_random=True), stop=True, when=lambda v: "rand" in v[0]),
    _Rule(_has("-misset"), 3, _misset_angles, lenient=_MISSET_SEED_SIDE_EFFECT),
    _Rule(_has("-samplesize", "-sample_size"), 1, _sample_size(0, 1, 2)),
    _Rule(_has("-sample_thick", "-sample_x"), 1, _sample_size(0)),
    _Rule(_has("-sample_width", "-sample_y", "-width"), 1, _sample_size(1)),
    _Rule(_has("-sample_heigh", "-sample_z", "-heigh"), 1, _sample_size(2)),
    _Rule(_has("-xtalsize", "-xtal_size"), 1, _sample_size(0, 1, 2)),
    _Rule(_has("-xtal_thick", "-xtal_x"), 1, _sample_size(0)),
    _Rule(_has("-xtal_width", "-xtal_y", "-width"), 1, _sample_size(1)),
    _Rule(_has("-xtal_heigh", "-xtal_z", "-heigh"), 1, _sample_size(2)),
    _Rule(_has("-density", "-sample_den"), 1, _number("density_g_per_cm3")),
    _Rule(lambda a: a == "-MW" or "-molec" in a, 1, _number("molecular_weight")),
    _Rule(_has("-Xbeam"), 1, _number("Xbeam_mm", pivot=Pivot.BEAM)),
    _Rule(_has("-Ybeam"), 1, _number("Ybeam_mm", pivot=Pivot.BEAM)),
    _Rule(_has("-Xclose"), 1, _number("Xclose_mm", pivot=Pivot.SAMPLE)),
    _Rule(_has("-Yclose"), 1, _number("Yclose_mm", pivot=Pivot.SAMPLE)),
    _Rule(_has("-ORGX"), 1, _number("ORGX", pivot=Pivot.SAMPLE)),
    _Rule(_has("-ORGY"), 1, _number("ORGY", pivot=Pivot.SAMPLE)),
    _Rule(_has("-pivot"), 1, _pivot),
    _Rule(_has("-mosflm"), 0, _flag(convention=Convention.MOSFLM, pivot=Pivot.BEAM)),
    _Rule(_has("-xds"), 0, _flag(convention=Convention.XDS, pivot=Pivot.SAMPLE)),
    _Rule(_has("-adxv"), 0, _flag(convention=Convention.ADXV, pivot=Pivot.BEAM)),
    _Rule(_has("-denzo"), 0, _flag(convention=Convention.DENZO, pivot=Pivot.BEAM)),
    _Rule(_has("-dials"), 0, _flag(convention=Convention.DIALS, pivot=Pivot.BEAM)),
    _Rule(_has("-fdet_vector"), 3, _custom_vector("fdet_vector")),
    _Rule(_has("-sdet_vector"), 3, _custom_vector("sdet_vector")),
    _Rule(_has("-odet_vector"), 3, _custom_vector("odet_vector")),
    _Rule(_has("-beam_vector"), 3, _custom_vector("beam_vector")),
    _Rule(_has("-polar_vector"), 3, _custom_vector("polar_vector")),
    _Rule(_has("-spindle_axis"), 3, _custom_vector("spindle_vector")),
    _Rule(_has("-twotheta_axis"), 3, _custom_vector("twotheta_axis")),
    _Rule(_has("-pix0_vector"), 3, _custom_vector("pix0_vector_m")),
    _Rule(_has("-distance"), 1, _number("distance_mm", pivot=Pivot.BEAM)),
    _Rule(_has("-close_distance"), 1, _number("close_distance_mm", pivot=Pivot.SAMPLE)),
    _Rule(_has("-detector_abs"), 1, _detector_abs),
    _Rule(_has_len("-detector_thick", 15), 1, _number("detector_thick_um")),
    _Rule(_has("-detector_thicksteps"), 1, _number("detector_thicksteps", "int")),
    _Rule(_has("-thicksteps"), 1, _number("detector_thicksteps", "int")),
    _Rule(_has("-twotheta"), 1, _number("twotheta_deg", pivot=Pivot.SAMPLE)),
    _Rule(_has("-detector_rotx"), 1, _detector_rot(0)),
    _Rule(_has("-detector_roty"), 1, _detector_rot(1)),
    _Rule(_has("-detector_rotz"), 1, _detector_rot(2)),
    _Rule(_has_len("-detsize", 8), 1, _numbers("detsize_f_mm", "detsize_s_mm")),
    _Rule(_has("-detsize_f"), 1, _number("detsize_f_mm")),
    _Rule(_has("-detsize_s"), 1, _number("detsize_s_mm")),
    _Rule(_has_len("-detpixels", 10), 1, _numbers("fpixels", "spixels", kind="int")),
    _Rule(_has("-detpixels_f", "-detpixels_x"), 1, _number("fpixels", "int")),
    _Rule(_has("-detpixels_s", "-detpixels_y"), 1, _number("spixels", "int")),
    _Rule(_has("-curved_det"), 0, _flag(curved_detector=True), needs_next=True),
    _Rule(_has("-pixel"), 1, _positive("pixel_size_mm")),
    _Rule(_has("-point_pixel"), 0, _flag(point_pixel=True)),
    _Rule(_has_len("-polar", 6), 1, _number("polarization", nopolar=False)),
    _Rule(_has("-nopolar"), 0, _flag(nopolar=True)),
    _Rule(_has("-oversample_thick"), 0, _flag(oversample_thick=True), stop=True),
    _Rule(_has("-oversample_polar"), 0, _flag(oversample_polar=True), stop=True),
    _Rule(_has("-oversample_omega"), 0, _flag(oversample_omega=True), stop=True),
    _Rule(_has("-oversample"), 1, _number("oversample", "int")),
    _Rule(_has("-roi"), 4, _roi),
    _Rule(_has("-lambda", "-wave"), 1, _positive("lambda0_A")),
    _Rule(_has("-energy"), 1, _energy),
    _Rule(_has("-fluence"), 1, _number("fluence")),
    _Rule(_has("-flux"), 1, _number("flux")),
    _Rule(_has("-exposure"), 1, _number("exposure_s")),
    _Rule(_has("-beamsize"), 1, _number("beamsize_mm")),
    _Rule(lambda a: ("-mosaic" in a and len(a) == 7) or "-mosaici" in a or "-mosaic_spr" in a, 1, _number("mosaic_spread_deg")),
    _Rule(_has("-mosaic_dom"), 1, _number("mosaic_domains", "int")),
    _Rule(_has("-dispersion"), 1, _number("dispersion_percent")),
    _Rule(_has("-dispsteps"), 1, _number("dispsteps", "int")),
    _Rule(_has("-divergence"), 1, _numbers("hdivrange_mrad", "vdivrange_mrad")),
    _Rule(_has("-hdivrange"), 1, _number("hdivrange_mrad")),
    _Rule(_has("-vdivrange"), 1, _number("vdivrange_mrad")),
    _Rule(_has_len("-hdivstep", 9), 1, _number("hdivstep_mrad")),
    _Rule(_has("-hdivsteps"), 1, _number("hdivsteps", "int")),
    _Rule(_has_len("-vdivstep", 9), 1, _number("vdivstep_mrad")),
    _Rule(_has("-vdivsteps"), 1, _number("vdivsteps", "int")),
    _Rule(_has("-divsteps"), 1, _numbers("hdivsteps", "vdivsteps", kind="int")),
    _Rule(_has("-round_div"), 0, _flag(round_div=True)),
    _Rule(_has("-square_div"), 0, _flag(round_div=False)),
    _Rule(_has("-adc"), 1, _number("adc_offset")),
    _Rule(_has_len("-phi", 4), 1, _number("phi0_deg")),
    _Rule(_has("-osc"), 1, _number("osc_deg")),
    _Rule(_has_len("-phistep", 8), 1, _number("phistep_deg")),
    _Rule(_has("-phisteps"), 1, _number("phisteps", "int")),
    _Rule(_has("-dmin"), 1, _number("dmin_A")),
    _Rule(_has("-mat"), 1, _text("matfilename")),
    _Rule(_has("-hkl"), 1, _text("hklfilename")),
    _Rule(_has("-default_F"), 1, _number("default_F")),
    _Rule(_has("-dump"), 1, _text("dumpfilename")),
    _Rule(_has("-img"), 1, _text("imginfilename")),
    _Rule(lambda a: "-stolout" in a and len(a) > 7, 1, _text("stoloutfilename")),
    _Rule(_has_len("-stol", 5), 1, _text("stolfilename")),
    _Rule(_has_len("-4stol", 6), 1, _text("stolfilename")),
    _Rule(_has_len("-Q", 2), 1, _text("stolfilename")),
    _Rule(_has("-sourcefile"), 1, _text("sourcefilename")),
    _Rule(_has("-floatfile", "-floatimage"), 1, _text("floatfilename")),
    _Rule(_has("-intfile", "-intimage"), 1, _text("intfilename")),
    _Rule(_has("-pgmfile", "-pgmimage"), 1, _text("pgmfilename", write_pgm=True)),
    _Rule(_has("-noisefile", "-noiseimage"), 1, _text("noisefilename", calculate_noise=True)),
    _Rule(_has("-nonoise"), 0, _flag(calculate_noise=False)),
    _Rule(_has("-nopgm"), 0, _flag(write_pgm=False)),
    _Rule(_has("-scale"), 1, _number("intfile_scale")),
    _Rule(_has("-pgmscale"), 1, _number("pgm_scale", write_pgm=True)),
    _Rule(_has("-coherent"), 0, _flag(coherent=True)),
    _Rule(_has("-printout"), 0, _flag(printout=True)),
    _Rule(_has("-noprogress"), 0, _flag(progress_meter=False)),
    _Rule(_has("-progress"), 0, _flag(progress_meter=True)),
    _Rule(_has("-interpolate"), 0, _flag(interpolate=1)),
    _Rule(_has("-nointerpolate"), 0, _flag(interpolate=0)),
    _Rule(_has("-round_xtal"), 0, _flag(xtal_shape=CrystalShape.ROUND)),
    _Rule(_has("-square_xtal"), 0, _flag(xtal_shape=CrystalShape.SQUARE)),
    _Rule(_has("-gauss_xtal"), 0, _flag(xtal_shape=CrystalShape.GAUSS)),
    _Rule(_has("-binary_spots", "-tophat_spots"), 0, _flag(xtal_shape=CrystalShape.TOPHAT)),
    _Rule(_has("-fudge"), 1, _number("fudge")),
    _Rule(_has("-printout_pixel"), 2, _printout_pixel),
    _Rule(_has("-seed"), 1, _seed("seed")),
    _Rule(_has("-mosaic_seed"), 1, _seed("mosaic_seed")),
    _Rule(_has("-misset_seed"), 1, _seed("misset_seed")),
    _Rule(_has("-water"), 1, _number("water_size_um")),
]

#: Flags read by the C program's first pass (SMV headers are ingested before the loop).
HEADER_RULES: list[_Rule] = [
    _Rule(_has("-img"), 1, _text("imginfilename")),
    _Rule(_has("-mask"), 1, _text("maskfilename")),
]

#: torch_sim's own options; matched exactly, never by substring.
TORCH_SIM_RULES: list[_Rule] = [
    _Rule(_exact("-dtype"), 1, _choice("dtype", ("float64", "float32"))),
    _Rule(_exact("-device"), 1, _text("device")),
    _Rule(_exact("-memory_mb"), 1, _positive("memory_budget_mb")),
    _Rule(_exact("-compile"), 0, _flag(compile=True)),
    _Rule(_exact("-nocompile"), 0, _flag(compile=False)),
    _Rule(_exact("-hdf5file"), 1, _text("hdf5filename")),
    _Rule(_exact("-phi_zero_rotates"), 0, _flag(phi_zero_rotates=True)),
    _Rule(_exact("-source_weights"), 0, _flag(use_source_weights=True)),
    _Rule(_exact("-interpolation_fallback"), 1, _choice("interpolation_fallback", ("c", "local"))),
    _Rule(_exact("-noise_method"), 1, _choice("noise_method", ("c", "torch"))),
    _Rule(_exact("-fit_smv_header"), 0, _flag(fit_smv_header=True)),
]


def _apply_rules(rules: list[_Rule], argv: Sequence[str], raw: RawArguments, matched: list[bool]) -> None:
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            continue
        following = argv[i + 1:]
        for rule in rules:
            if not rule.matches(arg):
                continue
            lenient = rule.lenient(arg)
            if rule.needs_next and not following:
                matched[i] = True  # a known flag that the C ignores in last position
                continue
            if rule.when is not None and not (len(following) >= rule.nargs and rule.when(following)):
                continue
            if len(following) < rule.nargs:
                if lenient:
                    continue
                raise InputError(f"{arg}: expected {rule.nargs} value(s) after the flag")
            matched[i] = True
            rule.action(raw, _Values(arg, following[: max(rule.nargs, 6)], lenient))
            if rule.stop:
                break


def scan_header_flags(argv: Sequence[str]) -> tuple[Optional[str], Optional[str]]:
    """The C program's first pass: the ``-img`` and ``-mask`` file names."""
    raw = RawArguments()
    _apply_rules(HEADER_RULES, argv, raw, [False] * len(argv))
    return raw.imginfilename, raw.maskfilename


def apply_flags(argv: Sequence[str], raw: RawArguments) -> RawArguments:
    """Run the C argument loop (and torch_sim's options) over ``argv`` into ``raw``.

    Raises InputError for an unknown flag, a flag missing its values or a malformed value.
    """
    matched = [False] * len(argv)
    _apply_rules(HEADER_RULES, argv, RawArguments(), matched)
    _apply_rules(C_RULES, argv, raw, matched)
    _apply_rules(TORCH_SIM_RULES, argv, raw, matched)
    for arg, was_matched in zip(argv, matched):
        if arg.startswith("-") and not was_matched and not is_number(arg):
            raise InputError(f"unknown flag {arg}")
    return raw
