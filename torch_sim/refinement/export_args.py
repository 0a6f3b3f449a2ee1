"""Refined values back to a nanoBragg command line the C program accepts.

The starting command keeps its convention, flags and order; only the flags of
parameters whose value changed are rewritten, in the C's units and meanings:

- ``-cell a b c alpha beta gamma`` (A, deg), ``-misset x y z`` (deg), ``-phi``,
  ``-osc``, ``-mosaic`` (deg), ``-lambda`` (A), ``-fluence`` (photons/m^2),
  ``-distance`` or ``-close_distance`` (mm), ``-detector_rotx/y/z``,
  ``-twotheta`` (deg), ``-pixel`` (mm), ``-polar``, ``-detector_thick``,
  ``-detector_abs`` (um), ``-hdivrange``, ``-vdivrange`` (mrad),
  ``-dispersion`` (%), ``-water`` (um), ``-default_F``;
- beam centre: ``-Xbeam``/``-Ybeam`` (mm) for ADXV, MOSFLM, DENZO and custom
  vectors; for XDS and DIALS the refined values are the near point
  Fclose/Sclose (mm), written as ``-ORGX``/``-ORGY`` in pixels
  (``value / pixel_size + 0.5``);
- crystal size: the C reads ``-N`` as an integer, so N_a, N_b, N_c are rounded
  (``-N n`` when equal, else ``-Na -Nb -Nc``), replacing any ``-xtalsize``-type
  flag; a note says so;
- a ``-mat`` crystal whose cell, misset or wavelength changed gets a new MOSFLM
  matrix file holding the refined orientation and cell (reciprocal vectors
  times the wavelength, misset included), replacing ``-mat``, ``-cell`` and
  ``-misset``.

A flag group that sets a rewritten value is removed when it sets nothing
else, and the new flags go where the first removed group was (else after the
last group that also sets the value, else at the front), so that the C's
argument-order effects (pivot choice by ``-distance``/``-Xbeam``/``-twotheta``,
``-polar`` clearing ``-nopolar``) stay as they were; a changed pivot is
restored with ``-pivot``.
"""

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from torch_sim.api import from_nanobragg_args
from torch_sim.config.enums import Convention
from torch_sim.config.resolve import parse_arguments
from torch_sim.io.atomic import atomic_write
from torch_sim.modules.simulator import Simulator
from torch_sim.refinement.argv_groups import ArgumentGroup, argument_groups

_CELL = ("cell_a", "cell_b", "cell_c", "cell_alpha", "cell_beta", "cell_gamma")
_MISSET = ("misset_x", "misset_y", "misset_z")
_N = ("N_a", "N_b", "N_c")
_ROTATIONS = ("detector_rotx", "detector_roty", "detector_rotz")


def number(value: float) -> str:
    """A value as the shortest text that reads back to the same double."""
    return repr(float(value))


@dataclass
class FlagSet:
    """Parameters written together: the RawArguments fields they set, fields their flags also set, the tokens."""

    params: tuple
    fields: frozenset
    tokens: Callable[[dict], list]
    side_effects: frozenset = frozenset()


def _rounded_N(values: dict) -> list:
    n = [max(1, int(math.floor(values[name] + 0.5))) for name in _N]
    return ["-N", str(n[0])] if n[0] == n[1] == n[2] else ["-Na", str(n[0]), "-Nb", str(n[1]), "-Nc", str(n[2])]


def _flag_sets(convention: Convention) -> list[FlagSet]:
    one = lambda flag, name: (lambda v: [flag, number(v[name])])
    pivot = frozenset({"pivot"})
    if convention in (Convention.XDS, Convention.DIALS):
        beam = FlagSet(("beam_x", "beam_y"), frozenset({"ORGX", "ORGY"}),
                       lambda v: ["-ORGX", number(v["beam_x"] / v["pixel_size"] + 0.5),
                                  "-ORGY", number(v["beam_y"] / v["pixel_size"] + 0.5)], pivot)
    else:
        beam = FlagSet(("beam_x", "beam_y"), frozenset({"Xbeam_mm", "Ybeam_mm"}),
                       lambda v: ["-Xbeam", number(v["beam_x"]), "-Ybeam", number(v["beam_y"])], pivot)
    return [
        FlagSet(_CELL, frozenset({"cell"}), lambda v: ["-cell", *(number(v[n]) for n in _CELL)],
                frozenset({"user_cell"})),
        FlagSet(_MISSET, frozenset({"misset_deg", "misset_random"}), lambda v: ["-misset", *(number(v[n]) for n in _MISSET)]),
        FlagSet(_N, frozenset({"Na", "Nb", "Nc", "sample_size_mm"}), _rounded_N),
        FlagSet(("phi_start",), frozenset({"phi0_deg"}), one("-phi", "phi_start")),
        FlagSet(("osc_range",), frozenset({"osc_deg"}), one("-osc", "osc_range")),
        FlagSet(("mosaic_spread",), frozenset({"mosaic_spread_deg"}), one("-mosaic", "mosaic_spread")),
        FlagSet(("wavelength",), frozenset({"lambda0_A"}), one("-lambda", "wavelength")),
        FlagSet(("fluence",), frozenset({"fluence", "flux"}), one("-fluence", "fluence")),
        FlagSet(("distance",), frozenset({"distance_mm"}), one("-distance", "distance"), pivot),
        FlagSet(("close_distance",), frozenset({"close_distance_mm"}), one("-close_distance", "close_distance"), pivot),
        beam,
        FlagSet(_ROTATIONS, frozenset({"detector_rot_deg"}),
                lambda v: [token for n in _ROTATIONS for token in ("-" + n, number(v[n]))]),
        FlagSet(("twotheta",), frozenset({"twotheta_deg"}), one("-twotheta", "twotheta"), pivot),
        FlagSet(("pixel_size",), frozenset({"pixel_size_mm"}), one("-pixel", "pixel_size")),
        FlagSet(("polarization",), frozenset({"polarization"}), one("-polar", "polarization"), frozenset({"nopolar"})),
        FlagSet(("detector_thickness",), frozenset({"detector_thick_um"}), one("-detector_thick", "detector_thickness")),
        FlagSet(("detector_abs_depth",), frozenset({"detector_mu_per_m"}), one("-detector_abs", "detector_abs_depth")),
        FlagSet(("hdivrange",), frozenset({"hdivrange_mrad"}), one("-hdivrange", "hdivrange")),
        FlagSet(("vdivrange",), frozenset({"vdivrange_mrad"}), one("-vdivrange", "vdivrange")),
        FlagSet(("dispersion",), frozenset({"dispersion_percent"}), one("-dispersion", "dispersion")),
        FlagSet(("water_size",), frozenset({"water_size_um"}), one("-water", "water_size")),
        FlagSet(("default_F",), frozenset({"default_F"}), one("-default_F", "default_F")),
    ]


@dataclass
class ExportedArgs:
    """``argv``: the command line; ``matrix``: MOSFLM A matrix [3, 3] to write at ``matrix_path`` (or None); notes."""

    argv: list
    matrix: Optional[np.ndarray] = None
    matrix_path: Optional[str] = None
    notes: list = field(default_factory=list)


def _rewrite(groups: list[ArgumentGroup], fields: frozenset, allowed: frozenset, tokens: list) -> list[ArgumentGroup]:
    """Remove the groups that set only ``fields`` (and ``allowed`` side effects); insert ``tokens`` in their place."""
    touching = [k for k, group in enumerate(groups) if group.fields & fields]
    removable = [k for k in touching if _only_sets(groups[k], fields | allowed)]
    kept = [k for k in touching if k not in removable]
    position = removable[0] if removable else 0
    if kept and kept[-1] >= position:
        position = kept[-1] + 1
    new = ArgumentGroup(list(tokens), fields)
    out = [group for k, group in enumerate(groups) if k not in removable]
    position -= sum(1 for k in removable if k < position)
    return out[:position] + [new] + out[position:]


def _only_sets(group: ArgumentGroup, fields: frozenset) -> bool:
    """Whether the group sets nothing outside ``fields``."""
    return group.fields <= fields


def mosflm_matrix(model: Simulator) -> np.ndarray:
    """The MOSFLM A matrix of the model's crystal: column j = (a*, b*, c*)[j] (1/A) times the wavelength (A)."""
    with torch.no_grad():
        reciprocal = model.crystal.lattice().reciprocal_matrix.to(torch.float64).cpu().numpy()
        wavelength = float(model.params["wavelength"])
    return reciprocal.T * wavelength


def write_mosflm_matrix(path, matrix: np.ndarray, cell: Sequence[float]) -> None:
    """A MOSFLM orientation file: the A matrix (3 rows), zero missets, U matrix, cell, zero missets (atomic)."""
    q, r = np.linalg.qr(matrix)
    u_matrix = q * np.sign(np.diag(r))[None, :]
    rows = [" ".join(f"{x:.17g}" for x in row) for row in matrix]
    rows += ["0 0 0"] + [" ".join(f"{x:.17g}" for x in row) for row in u_matrix]
    rows += [" ".join(f"{x:.17g}" for x in cell), "0 0 0"]
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(rows) + "\n")


def _values(model: Simulator) -> dict:
    return {name: float(p) for name, p in model.params.items() if p.dim() == 0}


def export_nanobragg_args(model: Simulator, base_argv: Sequence[str], matrix_path: str = "refined.mat",
                          start_model: Optional[Simulator] = None) -> ExportedArgs:
    """The command line of ``model`` written as an edit of ``base_argv`` (pure: writes no file).

    ``start_model`` is ``base_argv``'s model (built here when not given): a
    parameter is rewritten where the two differ. With a ``-mat`` crystal whose
    cell, misset or wavelength changed, the returned ``matrix`` must be written
    to ``matrix_path`` (see :func:`write_mosflm_matrix`), which the command names.
    """
    base = start_model if start_model is not None else from_nanobragg_args(list(base_argv), dtype=model.dtype)
    values, before = _values(model), _values(base)
    changed = {name for name in values if name in before and values[name] != before[name]}
    convention = model.config.detector.convention
    result = ExportedArgs(argv=[])
    if "pixel_size" in changed:
        changed |= {"beam_x", "beam_y"}
    groups = argument_groups(base_argv)
    baked = model.config.crystal.orientation_matrix is not None and changed & {*_CELL, *_MISSET, "wavelength"}
    if baked:
        result.matrix, result.matrix_path = mosflm_matrix(model), matrix_path
        groups = _rewrite(groups, frozenset({"matfilename", "cell"}), frozenset({"user_cell"}), ["-mat", matrix_path])
        if any(group.fields & {"misset_deg", "misset_random"} for group in groups):
            groups = _rewrite(groups, frozenset({"misset_deg", "misset_random"}), frozenset(), ["-misset", "0", "0", "0"])
        changed -= {*_CELL, *_MISSET}
        result.notes.append(f"the refined orientation and cell are in the new matrix file {matrix_path} "
                            "(misset folded in: the new command has no misset)")
    for flag_set in _flag_sets(convention):
        if not changed & set(flag_set.params) or not all(name in values for name in flag_set.params):
            continue
        groups = _rewrite(groups, flag_set.fields, flag_set.side_effects, flag_set.tokens(values))
        if flag_set.params == _N:
            rounded = _rounded_N(values)
            result.notes.append(f"N_a, N_b, N_c refined to {values['N_a']:.4g}, {values['N_b']:.4g}, "
                                f"{values['N_c']:.4g} are written as {' '.join(rounded)} "
                                "(the C program reads -N as an integer)")
    if "pixel_size" in changed and model.config.detector.detsize_f_mm is not None:
        detector = model.config.detector
        groups.append(ArgumentGroup(["-detpixels_f", str(detector.fpixels), "-detpixels_s", str(detector.spixels)],
                                    frozenset()))
        result.notes.append("the detector size was given in mm: the pixel counts are now given instead")
    result.argv = [token for group in groups for token in group.tokens]
    if convention == Convention.CUSTOM:
        raw, _ = parse_arguments(result.argv)
        if raw.pivot != model.config.detector.pivot:
            result.argv += ["-pivot", model.config.detector.pivot.value]
    return result


def nanobragg_args_from_model(model: Simulator, base_argv: Sequence[str], matrix_path: str = "refined.mat") -> list:
    """The nanoBragg command line of ``model``'s current values, editing ``base_argv``.

    Writes the new MOSFLM matrix to ``matrix_path`` when a ``-mat`` crystal
    changed (see :func:`export_nanobragg_args`).
    """
    exported = export_nanobragg_args(model, base_argv, matrix_path)
    if exported.matrix is not None:
        write_mosflm_matrix(matrix_path, exported.matrix, _cell_of_model(model))
    return exported.argv


def _cell_of_model(model: Simulator) -> list:
    return [float(model.params[name]) for name in _CELL]


def export_mismatches(model: Simulator, argv: Sequence[str], tolerance: float = 1e-9) -> list:
    """Differences between ``model`` and the model of ``argv`` (N compared after rounding); empty if none.

    The crystal is compared by its real-space vectors (a ``-mat`` export folds
    the misset into the matrix), the rest parameter by parameter.
    """
    other = from_nanobragg_args(list(argv), dtype=model.dtype)
    values, exported = _values(model), _values(other)
    problems = []
    with torch.no_grad():
        ours = model.crystal.lattice().real_matrix.to(torch.float64)
        theirs = other.crystal.lattice().real_matrix.to(torch.float64)
    if not torch.allclose(ours, theirs, rtol=tolerance, atol=tolerance * float(ours.abs().max())):
        problems.append("crystal vectors differ")
    skip = set(_CELL) | set(_MISSET) if model.config.crystal.orientation_matrix is not None else set()
    for name, value in values.items():
        if name in skip:
            continue
        target = max(1.0, math.floor(value + 0.5)) if name in _N else value
        if name not in exported:
            problems.append(f"{name} is missing")
        elif not math.isclose(exported[name], target, rel_tol=tolerance, abs_tol=tolerance):
            problems.append(f"{name}: {exported[name]!r} instead of {target!r}")
    if other.config.detector.pivot != model.config.detector.pivot:
        problems.append("detector pivot differs")
    return problems

