"""From a nanoBragg command line to a :class:`SimulationConfig`, following nanoBragg.c's main().

The order of operations is the C program's: SMV headers (-mask, then -img),
the flag loop, detector size and beam-centre defaults, the convention block,
step auto-selection, the unit cell (with random misset from the C generator),
crystal size and oversampling, structure factors, sources, mosaic domains.
"""

import math
import os
import time
from typing import Optional, Sequence

import numpy as np
import torch

from torch_sim.config.beam_config import BeamConfig, DivergenceGrid, SourceFile
from torch_sim.config.crystal_config import CrystalConfig, StructureFactorTable
from torch_sim.config.detector_config import DetectorConfig
from torch_sim.config.enums import Convention, Pivot
from torch_sim.config.nanobragg_flags import apply_flags, scan_header_flags
from torch_sim.config.raw_arguments import RawArguments
from torch_sim.config.sampling_steps import divergence_steps, mosaic_domain_count, phi_steps, thickness_steps
from torch_sim.config.simulation_config import SimulationConfig
from torch_sim.errors import InputError
from torch_sim.functional.cell import check_cell, lattice_from_reciprocal, reciprocal_default_frame
from torch_sim.functional.detector_geometry import detector_geometry
from torch_sim.functional.vector_ops import norm
from torch_sim.io import read_fdump, read_hkl, read_mosflm_matrix, read_smv, read_source_file, structure_factor_grid
from torch_sim.rng import CRandom, Seed, mosaic_domain_draws, random_misset_rad
from torch_sim.units import RTD, SOURCE_DISTANCE_M, deg_to_rad

#: Axes of each convention: beam, fdet, sdet, odet, twotheta axis, polarization, spindle.
_CONVENTION_AXES = {
    Convention.ADXV: ((0, 0, 1), (1, 0, 0), (0, -1, 0), (0, 0, 1), (-1, 0, 0), (1, 0, 0), (1, 0, 0)),
    Convention.MOSFLM: ((1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1), (0, 0, 1)),
    Convention.DENZO: ((1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1), (0, 0, 1)),
    Convention.XDS: ((0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (1, 0, 0), (1, 0, 0)),
    Convention.DIALS: ((0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 1, 0), (0, 1, 0)),
}
_FORCED_PIVOT = {
    Convention.ADXV: Pivot.BEAM, Convention.MOSFLM: Pivot.BEAM, Convention.DENZO: Pivot.BEAM,
    Convention.XDS: Pivot.SAMPLE, Convention.DIALS: Pivot.SAMPLE,
}


def _ingest_header(raw: RawArguments, path: str, is_mask: bool) -> Optional[np.ndarray]:
    """Geometry from an SMV header, as the C's -mask / -img blocks; returns the pixel data."""
    image = read_smv(path)
    raw.spixels, raw.fpixels = image.data.shape
    value = image.value_of
    if not math.isnan(value("PIXEL_SIZE")):
        raw.pixel_size_mm = value("PIXEL_SIZE")
    raw.detsize_f_mm = raw.pixel_size_mm * raw.fpixels
    raw.detsize_s_mm = raw.pixel_size_mm * raw.spixels
    for key, field in (("DISTANCE", "distance_mm"), ("CLOSE_DISTANCE", "close_distance_mm"),
                       ("WAVELENGTH", "lambda0_A"), ("BEAM_CENTER_X", "Xbeam_mm"), ("ORGX", "ORGX"),
                       ("ORGY", "ORGY"), ("PHI", "phi0_deg"), ("OSC_RANGE", "osc_deg")):
        if not math.isnan(value(key)):
            setattr(raw, field, value(key))
    if not math.isnan(value("BEAM_CENTER_Y")):
        # the C flips the mask's Y beam centre but not the image's
        raw.Ybeam_mm = raw.detsize_s_mm - value("BEAM_CENTER_Y") if is_mask else value("BEAM_CENTER_Y")
    return image.data


def parse_arguments(argv: Sequence[str]) -> tuple[RawArguments, Optional[np.ndarray]]:
    """Headers of -mask then -img, then the flag loop. Returns the raw values and the mask (or None)."""
    raw = RawArguments()
    img_path, mask_path = scan_header_flags(argv)
    mask = None
    if mask_path is not None:
        mask = _ingest_header(raw, mask_path, is_mask=True)
    if img_path is not None:
        _ingest_header(raw, img_path, is_mask=False)
    apply_flags(argv, raw)
    raw.imginfilename, raw.maskfilename = img_path, mask_path
    return raw, mask


def _unit(vector, name: str) -> tuple[float, float, float]:
    length = math.sqrt(sum(x * x for x in vector))
    if length == 0.0:
        raise InputError(f"{name} has zero length")
    return tuple(x / length for x in vector)


def _detector_config(raw: RawArguments, mask: Optional[np.ndarray], messages: list) -> DetectorConfig:
    pixel_m = raw.pixel_size_mm / 1000.0
    detsize_f_m, detsize_s_m = raw.detsize_f_mm / 1000.0, raw.detsize_s_mm / 1000.0
    if raw.fpixels:
        detsize_f_m = pixel_m * raw.fpixels
    if raw.spixels:
        detsize_s_m = pixel_m * raw.spixels
    fpixels = math.ceil(detsize_f_m / pixel_m - 0.5)
    spixels = math.ceil(detsize_s_m / pixel_m - 0.5)
    if fpixels <= 0 or spixels <= 0:
        raise InputError(f"detector must have a positive number of pixels, got {fpixels}x{spixels}")
    if mask is not None and mask.shape != (spixels, fpixels):
        raise InputError(f"mask is {mask.shape[1]}x{mask.shape[0]} pixels but the detector is {fpixels}x{spixels}")

    convention = raw.convention
    pivot = _FORCED_PIVOT.get(convention, raw.pivot)
    if convention == Convention.CUSTOM:
        beam, fdet, sdet, odet = raw.beam_vector, raw.fdet_vector, raw.sdet_vector, raw.odet_vector
        twotheta_axis, polar, spindle = raw.twotheta_axis, raw.polar_vector, raw.spindle_vector
    else:
        beam, fdet, sdet, odet, twotheta_axis, polar, spindle = _CONVENTION_AXES[convention]
    beam, fdet, sdet = _unit(beam, "beam_vector"), _unit(fdet, "fdet_vector"), _unit(sdet, "sdet_vector")
    if math.sqrt(sum(x * x for x in odet)) != 1.0:
        messages.append(("parse", "WARNING: auto-generating odet_vector"))
        odet = _unit(np.cross(fdet, sdet), "odet_vector (fdet x sdet)")
    if abs(float(np.dot(fdet, sdet))) > 1.0 - 1e-12:
        raise InputError("fdet_vector and sdet_vector are parallel")

    # beam-centre parameter: Xbeam/Ybeam, or for XDS and DIALS the near point Fclose/Sclose
    fclose_m = (raw.ORGX - 0.5) * pixel_m if raw.ORGX is not None else detsize_f_m / 2.0
    sclose_m = (raw.ORGY - 0.5) * pixel_m if raw.ORGY is not None else detsize_s_m / 2.0
    xclose_m = raw.Xclose_mm / 1000.0 if raw.Xclose_mm is not None else fclose_m
    yclose_m = raw.Yclose_mm / 1000.0 if raw.Yclose_mm is not None else sclose_m
    if convention == Convention.ADXV:
        default_x, default_y = (detsize_f_m + pixel_m) / 2.0, (detsize_s_m - pixel_m) / 2.0
    elif convention in (Convention.MOSFLM, Convention.DENZO):
        default_x, default_y = (detsize_s_m + pixel_m) / 2.0, (detsize_f_m + pixel_m) / 2.0
    else:
        default_x, default_y = xclose_m, yclose_m
    if convention in (Convention.XDS, Convention.DIALS):
        beam_x_mm, beam_y_mm = fclose_m * 1000.0, sclose_m * 1000.0
    else:
        beam_x_mm = raw.Xbeam_mm if raw.Xbeam_mm is not None else default_x * 1000.0
        beam_y_mm = raw.Ybeam_mm if raw.Ybeam_mm is not None else default_y * 1000.0

    thicksteps, thickness_um, thickstep_divisor = thickness_steps(raw.detector_thicksteps, raw.detector_thick_um)
    abs_depth_um = None
    if raw.detector_mu_per_m is not None:
        # -detector_abs inf or 0 gives mu = 0: nothing is absorbed (an empty image with a thick sensor)
        abs_depth_um = 1e6 / raw.detector_mu_per_m if raw.detector_mu_per_m > 0.0 else math.inf
    elif thickness_um > 0.0:
        messages.append(("steps", f"WARNING: setting detector attenuation depth to {1.0 / (thickness_um * 1e-6):g} m"))

    roi = list(raw.roi) if raw.roi is not None else [-1, -1, -1, -1]
    defaults = (0, fpixels, 0, spixels)
    roi = tuple(defaults[k] if roi[k] < 0 else roi[k] for k in range(4))
    return DetectorConfig(
        convention=convention, pivot=pivot, fpixels=fpixels, spixels=spixels,
        pixel_size_mm=raw.pixel_size_mm,
        distance_mm=None if raw.close_distance_mm is not None else raw.distance_mm,
        close_distance_mm=raw.close_distance_mm,
        beam_x_mm=beam_x_mm, beam_y_mm=beam_y_mm,
        rotx_deg=raw.detector_rot_deg[0], roty_deg=raw.detector_rot_deg[1], rotz_deg=raw.detector_rot_deg[2],
        twotheta_deg=raw.twotheta_deg,
        detsize_f_mm=None if raw.fpixels else raw.detsize_f_mm,
        detsize_s_mm=None if raw.spixels else raw.detsize_s_mm,
        fdet_vector=fdet, sdet_vector=sdet, odet_vector=odet, beam_vector=beam,
        polar_vector=_unit(polar, "polar_vector"), spindle_vector=_unit(spindle, "spindle_axis"),
        twotheta_axis=tuple(float(x) for x in twotheta_axis),
        xbeam_given_mm=raw.Xbeam_mm, ybeam_given_mm=raw.Ybeam_mm,
        xclose_given_mm=raw.Xclose_mm, yclose_given_mm=raw.Yclose_mm,
        orgx_given=raw.ORGX, orgy_given=raw.ORGY,
        curved=raw.curved_detector, point_pixel=raw.point_pixel,
        thickness_um=thickness_um, abs_depth_um=abs_depth_um, thicksteps=thicksteps,
        thickstep_divisor=thickstep_divisor,
        oversample=raw.oversample if raw.oversample is not None and raw.oversample > 0 else 0,
        oversample_omega=raw.oversample_omega, oversample_polar=raw.oversample_polar,
        oversample_thick=raw.oversample_thick, roi=roi, mask=mask,
    )


def _initial_geometry(detector: DetectorConfig):
    params = {
        "pixel_size": detector.pixel_size_mm, "beam_x": detector.beam_x_mm, "beam_y": detector.beam_y_mm,
        "detector_rotx": detector.rotx_deg, "detector_roty": detector.roty_deg,
        "detector_rotz": detector.rotz_deg, "twotheta": detector.twotheta_deg,
    }
    if detector.close_distance_mm is not None:
        params["close_distance"] = detector.close_distance_mm
    else:
        params["distance"] = detector.distance_mm
    return detector_geometry(detector, {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()})


def _matrix_reciprocal_vectors(raw: RawArguments) -> np.ndarray:
    """Reciprocal vectors of a -mat file as columns a*, b*, c* (1/A): the MOSFLM matrix divided by the wavelength."""
    matrix = read_mosflm_matrix(raw.matfilename) * (1e-10 / (raw.lambda0_A / 1.0e10))
    if abs(np.linalg.det(matrix)) == 0.0:
        raise InputError(f"{raw.matfilename}: orientation matrix is singular")
    return matrix


def _default_frame(cell) -> np.ndarray:
    """The C program's default-frame reciprocal vectors of a cell (A, deg), as columns."""
    lengths = [torch.tensor(x, dtype=torch.float64) for x in cell[:3]]
    angles = [torch.tensor(deg_to_rad(x), dtype=torch.float64) for x in cell[3:]]
    return torch.stack(reciprocal_default_frame(*lengths, *angles)[:3], dim=1).numpy()


def _cell_of_reciprocal(matrix: np.ndarray) -> tuple:
    """Cell constants (A, deg) of reciprocal vectors given as columns."""
    lattice = lattice_from_reciprocal(*torch.tensor(matrix.T, dtype=torch.float64).unbind(0))
    a, b, c = lattice.a, lattice.b, lattice.c
    angle = lambda u, v: math.degrees(math.acos(float((u @ v) / (norm(u) * norm(v)))))
    return (float(norm(a)), float(norm(b)), float(norm(c)), angle(b, c), angle(a, c), angle(a, b))


def _user_cell(raw: RawArguments) -> tuple:
    a, b, c, alpha, beta, gamma = raw.cell
    b = b if b > 0.0 else a
    c = c if c > 0.0 else a
    alpha, beta, gamma = (x if x > 0.0 else 90.0 for x in (alpha, beta, gamma))
    return (a, b, c, alpha, beta, gamma)


def _structure_factors(raw: RawArguments, use_fdump: bool, messages: list) -> Optional[StructureFactorTable]:
    if raw.hklfilename is not None:
        messages.append(("hkl", f"counting entries in {raw.hklfilename}"))
        hkl = read_hkl(raw.hklfilename)
        if raw.default_F != 0.0:
            messages += [("hkl", f"initializing to default_F = {raw.default_F:g}:"), ("hkl", "done initializing:")]
        messages.append(("hkl", f"re-reading {raw.hklfilename}"))
        if len(hkl.amplitudes) == 0:
            raise InputError(f"{raw.hklfilename}: no reflections")
        grid = structure_factor_grid(hkl, raw.default_F)
        specified = np.zeros(grid.values.shape, dtype=bool)
        lo = np.array([grid.h_min, grid.k_min, grid.l_min])
        specified[tuple((hkl.indices - lo).T)] = True
        return StructureFactorTable(grid.values, specified, (grid.h_min, grid.k_min, grid.l_min), len(hkl.amplitudes))
    if use_fdump and os.path.exists(raw.dumpfilename):
        messages.append(("hkl", f"reading Fs from {raw.dumpfilename}"))
        grid = read_fdump(raw.dumpfilename)
        return StructureFactorTable(grid.values, np.ones(grid.values.shape, dtype=bool),
                                    (grid.h_min, grid.k_min, grid.l_min), grid.values.size)
    if raw.default_F == 0.0:
        raise InputError("no structure factors: give -hkl FILE or -default_F VALUE")
    return None


def _beam_config(raw: RawArguments, detector: DetectorConfig, fluence: float) -> BeamConfig:
    beam = BeamConfig(
        wavelength_A=raw.lambda0_A, fluence=fluence, polarization=raw.polarization, nopolar=raw.nopolar,
        use_source_weights=raw.use_source_weights, dmin_A=raw.dmin_A, water_size_um=raw.water_size_um,
    )
    hsteps, hrange, hrule = divergence_steps(raw.hdivsteps, _mrad(raw.hdivrange_mrad), _mrad(raw.hdivstep_mrad))
    vsteps, vrange, vrule = divergence_steps(raw.vdivsteps, _mrad(raw.vdivrange_mrad), _mrad(raw.vdivstep_mrad))
    dsteps, dispersion, drule = divergence_steps(raw.dispsteps, raw.dispersion_percent / 100.0, None)
    beam.hdivrange_mrad = _given_or(raw.hdivrange_mrad, hrange * 1000.0)
    beam.vdivrange_mrad = _given_or(raw.vdivrange_mrad, vrange * 1000.0)
    beam.dispersion_percent = raw.dispersion_percent if dispersion > 0.0 else 0.0
    hstep, vstep = hrule.step(hrange), vrule.step(vrange)
    hdiv = hstep * np.arange(hsteps) - hrange / 2.0
    vdiv = vstep * np.arange(vsteps) - vrange / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        test = (hdiv[:, None] ** 2 - hstep * hstep / 4.0 * (1 - hsteps % 2)) / hrange / hrange
        test = test + (vdiv[None, :] ** 2 - vstep * vstep / 4.0 * (1 - vsteps % 2)) / vrange / vrange
    kept = ~(raw.round_div & (test * 4.0 > 1.1))
    if raw.sourcefilename is None and not kept.any():
        raise InputError("the round divergence cut leaves no source: a divergence step is larger than its range "
                         "(use -square_div, or smaller steps)")
    beam.grid = DivergenceGrid(hsteps, vsteps, dsteps, hrule, vrule, drule, kept)
    if raw.sourcefilename is not None:
        beam.source_file = _source_file(raw, detector)
    return beam


def _source_file(raw: RawArguments, detector: DetectorConfig) -> SourceFile:
    """Sources from -sourcefile with the C's defaults for missing columns."""
    rows = read_source_file(raw.sourcefilename)
    beam_vector = np.array(detector.beam_vector)
    for k in range(3):
        rows[np.isnan(rows[:, k]), k] = -SOURCE_DISTANCE_M * beam_vector[k]
    rows[np.isnan(rows[:, 3]), 3] = 1.0
    lengths = np.linalg.norm(rows[:, :3], axis=1)
    if np.any(lengths == 0.0):
        raise InputError(f"{raw.sourcefilename}: a source lies at the sample (zero direction)")
    if np.any(rows[:, 4] <= 0.0):
        raise InputError(f"{raw.sourcefilename}: a source wavelength is not positive")
    printed = rows.copy()
    printed[np.isnan(printed[:, 4]), 4] = raw.lambda0_A / 1.0e10
    return SourceFile(directions=rows[:, :3] / lengths[:, None], wavelengths_A=rows[:, 4] * 1.0e10,
                      weights=rows[:, 3], printed_rows=printed)


def _mrad(value: Optional[float]) -> Optional[float]:
    return None if value is None else value / 1000.0


def _given_or(given: Optional[float], derived: float) -> float:
    return given if given is not None and derived > 0.0 else derived


def resolve_arguments(argv: Sequence[str], use_fdump: bool = False) -> tuple[SimulationConfig, RawArguments]:
    """Resolve a nanoBragg command line. ``use_fdump``: read Fdump.bin when no -hkl is given (as the C)."""
    raw, mask = parse_arguments(argv)
    messages: list = [("parse", f"reading {path}") for path in (raw.maskfilename, raw.imginfilename) if path]
    return _resolve(raw, mask, use_fdump, messages), raw


def _resolve(raw: RawArguments, mask, use_fdump: bool, messages: list) -> SimulationConfig:
    if raw.matfilename is None and raw.cell[0] == 0.0:
        raise InputError("no unit cell: give -cell a b c alpha beta gamma or -mat FILE")
    fluence = raw.fluence
    beamsize_m = raw.beamsize_mm / 1000.0
    if raw.flux != 0.0 and raw.exposure_s > 0.0 and beamsize_m >= 0:
        if beamsize_m == 0.0:
            raise InputError("-beamsize must be positive to compute the fluence from -flux")
        fluence = raw.flux * raw.exposure_s / beamsize_m / beamsize_m
    sample_m = [x / 1000.0 for x in raw.sample_size_mm]
    if beamsize_m >= 0:
        for axis, name in ((1, "high"), (2, "wide")):
            if beamsize_m < sample_m[axis]:
                messages.append(("parse", f"WARNING: clipping sample ({sample_m[axis]:g} m {name}) with beam ({beamsize_m:g} m)"))
                sample_m[axis] = beamsize_m

    detector = _detector_config(raw, mask, messages)
    phisteps, osc_deg, phi_rule = phi_steps(raw.phisteps, raw.osc_deg, raw.phistep_deg)
    domains, spread_deg, warning = mosaic_domain_count(raw.mosaic_domains, raw.mosaic_spread_deg)
    if warning:
        messages.append(("steps", warning))
    geometry = _initial_geometry(detector)
    if float(geometry.distance) == 0.0 or not math.isfinite(float(geometry.distance)):
        raise InputError("impossible geometry: the beam does not meet the detector plane (beam . detector normal = 0)")

    interpolate = bool(raw.interpolate)
    if raw.interpolate > 1:
        interpolate = raw.Na <= 2 or raw.Nb <= 2 or raw.Nc <= 2
        messages.append(("interpolation", "auto-selected tricubic interpolation of structure factors" if interpolate
                          else "auto-selected no interpolation"))

    rng = CRandom()
    if raw.matfilename is not None:
        messages.append(("cell", f"reading {raw.matfilename}"))
    orientation = None
    if raw.user_cell:
        cell = _user_cell(raw)
        check_cell(*cell)
    if raw.matfilename is not None:
        # the file's vectors replace the default frame (with -cell, the C keeps the cell's lengths)
        matrix = _matrix_reciprocal_vectors(raw)
        if not raw.user_cell:
            cell = _cell_of_reciprocal(matrix)
        orientation = matrix @ np.linalg.inv(_default_frame(cell))
    check_cell(*cell)
    misset_deg = raw.misset_deg or (0.0, 0.0, 0.0)
    random_misset = None
    if raw.misset_random:
        misset_seed = Seed(raw.misset_seed if raw.misset_seed is not None else -int(time.time()))
        random_misset = tuple(x * RTD for x in random_misset_rad(rng, misset_seed))
        misset_deg = random_misset

    N = [raw.Na, raw.Nb, raw.Nc]
    lattice = _initial_lattice(cell, orientation, misset_deg, raw.user_cell)
    lengths_m = [float(norm(v * 1e-10)) for v in (lattice.a, lattice.b, lattice.c)]
    for axis in range(3):
        if sample_m[axis] > 0:
            N[axis] = float(math.ceil(sample_m[axis] / lengths_m[axis]))
        N[axis] = max(N[axis], 1.0)
    xtalsize_max = max(length * n for length, n in zip(lengths_m, N))
    reciprocal_pixel = (raw.lambda0_A / 1.0e10) * float(geometry.distance) / (raw.pixel_size_mm / 1000.0)
    recommended = max(math.ceil(3.0 * xtalsize_max / reciprocal_pixel), 1)
    if detector.oversample <= 0:
        detector.oversample = recommended
        messages.append(("oversample", f"auto-selected {recommended}-fold oversampling"))
    if detector.oversample < recommended:
        messages += [("oversample", line) for line in (
            f"WARNING: maximum dimension of sample is {xtalsize_max * 1e10:g} A",
            f"         but reciprocal pixel size is {reciprocal_pixel * 1e10:g} A",
            "         intensity may vary significantly across a pixel!",
            f"         recommend -oversample {recommended} to work around this")]

    table = _structure_factors(raw, use_fdump, messages)
    if table is None or table.hkls == 0:
        interpolate = False
    beam = _beam_config(raw, detector, fluence)
    mosaic_draws = mosaic_domain_draws(rng, Seed(raw.mosaic_seed), domains)
    crystal = CrystalConfig(
        cell_A_deg=cell, user_cell=raw.user_cell, orientation_matrix=orientation, misset_deg=misset_deg,
        N_cells=tuple(N), shape=raw.xtal_shape, fudge=raw.fudge,
        phisteps=phisteps, phi_start_deg=raw.phi0_deg, osc_range_deg=osc_deg, phistep_rule=phi_rule,
        mosaic_domains=domains, mosaic_spread_deg=spread_deg, mosaic_draws=mosaic_draws,
        structure_factors=table, default_F=raw.default_F, interpolate=interpolate,
        interpolation_fallback=raw.interpolation_fallback, phi_zero_rotates=raw.phi_zero_rotates,
    )
    return SimulationConfig(detector=detector, crystal=crystal, beam=beam, messages=messages,
                            random_misset_deg=random_misset, random_state=rng)


def _initial_lattice(cell, orientation, misset_deg, user_cell):
    """Lattice vectors at the initial parameter values (float64), for the crystal-size logic."""
    from torch_sim.functional.crystal_orientation import lattice_vectors

    t = lambda x: torch.tensor(x, dtype=torch.float64)
    return lattice_vectors(
        *[t(x) for x in cell[:3]], *[t(deg_to_rad(x)) for x in cell[3:]], [t(deg_to_rad(x)) for x in misset_deg],
        orientation=None if orientation is None else t(orientation), user_cell=user_cell,
    )
