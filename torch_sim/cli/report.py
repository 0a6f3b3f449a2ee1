"""The lines nanoBragg.c prints, in its order and formats, from a torch_sim model.

``preamble_lines`` covers everything the C prints before the pixel loop,
``pixel_trace_lines`` the ``-printout_pixel`` trace and ``statistics_lines`` the
summary after it. Values come from the model's own float64 computations, so
the golden ``stdout.txt`` files test the port's derived geometry directly.
"""

import math

import numpy as np
import torch

from torch_sim.cli.statistics import ImageStatistics
from torch_sim.config.enums import CrystalShape, Pivot
from torch_sim.config.raw_arguments import RawArguments
from torch_sim.functional.cell import cell_angle_terms, cell_parameters, user_cell_reciprocal_terms
from torch_sim.functional.vector_ops import cross, norm
from torch_sim.modules.simulator import Simulator
from torch_sim.units import AVOGADRO, RTD

BANNER = "nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17"
_SHAPE_NAMES = {CrystalShape.ROUND: "ellipsoidal", CrystalShape.SQUARE: "parallelpiped",
                CrystalShape.GAUSS: "gaussian", CrystalShape.TOPHAT: "tophat-spot"}


def _g(*values) -> str:
    return " ".join("%g" % float(v) for v in values)


def _messages(model: Simulator, stage: str) -> list:
    return [text for where, text in model.config.messages if where == stage]


def _vector_table(title: str, names: tuple, rows: torch.Tensor) -> list:
    """The C's three-line X/Y/Z table of three vectors (rows of ``rows`` are the vectors)."""
    lines = [title, "     %-10s  %-10s  %-10s" % names]
    for axis, label in enumerate("XYZ"):
        lines.append("%s: %11.8f %11.8f %11.8f" % (label, *(float(rows[k, axis]) for k in range(3))))
    return lines


def _oddball(terms: dict, title: str, labels: tuple) -> list:
    """The C's warning block when a sine or cosine exceeds 1.0000001 in magnitude (values before clamping)."""
    values = [float(terms[key]) for key, _ in labels]
    if all(-1.0000001 <= value <= 1.0000001 for value in values):
        return []
    return [title] + ["%s = %.25g" % (label, value) for (_, label), value in zip(labels, values)]


_RECIPROCAL_LABELS = (("sin_alpha_star", "sin(alpha_star)"), ("cos_alpha_star", "cos(alpha_star)"),
                      ("sin_beta_star", "sin(beta_star) "), ("cos_beta_star", "cos(beta_star) "),
                      ("sin_gamma_star", "sin(gamma_star)"), ("cos_gamma_star", "cos(gamma_star)"))


def _user_cell_oddball_lines(model: Simulator) -> list:
    """The oddball warning of the C's -cell block (whose last label has the C's typo)."""
    if not model.config.crystal.user_cell:
        return []
    a, b, c, alpha, beta, gamma = model.config.crystal.cell_A_deg
    terms = user_cell_reciprocal_terms(a, b, c, alpha / RTD, beta / RTD, gamma / RTD)
    labels = _RECIPROCAL_LABELS[:5] + (("cos_gamma_star", "cos9gamma_star)"),)
    return _oddball(terms, "WARNING: oddball reciprocal cell angles:", labels)


def _cell_lines(model: Simulator, lattice) -> list:
    terms = cell_angle_terms(lattice)
    lines = _oddball(terms, "WARNING: oddball cell angles:", (
        ("sin_alpha", "sin_alpha"), ("cos_alpha", "cos_alpha"), ("sin_beta", "sin_beta "),
        ("cos_beta", "cos_beta "), ("sin_gamma", "sin_gamma"), ("cos_gamma", "cos_gamma")))
    lines += _oddball(terms, "WARNING: oddball reciprocal cell angles:", _RECIPROCAL_LABELS)
    params = [float(x) for x in cell_parameters(lattice)]
    for k in (3, 4, 5, 9, 10, 11):
        params[k] *= RTD
    return lines + [
        "Unit Cell: " + _g(*params[:6]),
        "Recp Cell: " + _g(*params[6:]),
        "volume = %g A^3" % float(lattice.volume_A3),
        *_vector_table("real-space cell vectors (Angstrom):", ("a", "b", "c"), lattice.real_matrix),
        *_vector_table("reciprocal-space cell vectors (Angstrom^-1):", ("a_star", "b_star", "c_star"),
                       lattice.reciprocal_matrix),
    ]


def _lengths_m(lattice) -> list:
    """Cell lengths in metres, as the C takes them: the length of the vector scaled by 1e-10."""
    return [float(norm(v * 1e-10)) for v in (lattice.a, lattice.b, lattice.c)]


def _crystal_size_lines(model: Simulator, lattice) -> list:
    lengths_m = _lengths_m(lattice)
    N = model.config.crystal.N_cells
    size = [length * n for length, n in zip(lengths_m, N)]
    return ["crystal is %g x %g x %g microns" % tuple(x * 1e6 for x in size)]


def _molecular_weight_line(model: Simulator, lattice) -> str:
    lengths_m = _lengths_m(lattice)
    N = model.config.crystal.N_cells
    volume = (lengths_m[0] * N[0]) * (lengths_m[1] * N[1]) * (lengths_m[2] * N[2])
    return "approximate MW = %g" % (volume * 1.2e6 * AVOGADRO / (N[0] * N[1] * N[2]))


def _source_lines(model: Simulator, geometry) -> tuple[list, int]:
    """Divergence, wavelength and source-list lines, and the C's divsteps count."""
    config, raw_beam = model.config, model.config.beam
    lines = []
    lambda0_m = float(model.beam.params["wavelength"]) / 1.0e10
    if raw_beam.source_file is not None:
        rows = raw_beam.source_file.printed_rows
        lines.append("  created a total of %d sources:" % len(rows))
        lines += ["%g %g %g   %g %g" % tuple(float(x) for x in row) for row in rows]
        return lines, -1
    grid = raw_beam.grid
    hrange = float(model.beam._range("hdivrange", 1000.0, raw_beam.hdivrange_mrad))
    vrange = float(model.beam._range("vdivrange", 1000.0, raw_beam.vdivrange_mrad))
    dispersion = float(model.beam._range("dispersion", 100.0, raw_beam.dispersion_percent))
    hstep, vstep = grid.hdivstep_rule.step(hrange), grid.vdivstep_rule.step(vrange)
    kept = np.argwhere(grid.kept)
    for h, v in kept:
        lines.append("divergence deviation: %g %g" % (hstep * h - hrange / 2.0, vstep * v - vrange / 2.0))
    dispstep = grid.dispstep_rule.step(dispersion)
    wavelengths = [lambda0_m * (1.0 + dispstep * tic - dispersion / 2.0) for tic in range(grid.dispsteps)]
    lines += ["lambda%d = %.15g" % (tic, value) for tic, value in enumerate(wavelengths)]
    polar = torch.tensor(config.detector.polar_vector, dtype=torch.float64)
    incident, _, _ = model.beam.sources(geometry.beam.detach(), polar)
    lines.append("  created a total of %d sources:" % incident.shape[0])
    positions = _generated_source_positions(model, geometry, hrange, vrange, hstep, vstep, kept)
    for k in range(incident.shape[0]):
        x, y, z = positions[k // grid.dispsteps]
        lines.append("%g %g %g   %g %g" % (x, y, z, 1.0 / incident.shape[0], wavelengths[k % grid.dispsteps]))
    return lines, len(kept)


def _generated_source_positions(model, geometry, hrange, vrange, hstep, vstep, kept) -> list:
    """Source positions (m) before normalisation, as the C prints them."""
    from torch_sim.functional.rotations import rotate_axis
    from torch_sim.functional.vector_ops import unitize

    beam = geometry.beam.detach()
    polar = torch.tensor(model.config.detector.polar_vector, dtype=beam.dtype)
    vertical, _ = unitize(cross(beam, polar))
    positions = []
    for h, v in kept:
        vector = rotate_axis(-10.0 * beam, polar, torch.tensor(vstep * v - vrange / 2.0, dtype=beam.dtype))
        vector = rotate_axis(vector, vertical, torch.tensor(hstep * h - hrange / 2.0, dtype=beam.dtype))
        positions.append(tuple(float(x) for x in vector))
    return positions


def preamble_lines(model: Simulator, raw: RawArguments) -> list:
    """Everything the C program prints before rendering, in its order."""
    config, detector = model.config, model.config.detector
    crystal, beam = config.crystal, config.beam
    with torch.no_grad():
        geometry = model.detector()
        lattice = model.crystal.lattice()
        layer_thickness, mu = model.detector.sensor()
    lines = _messages(model, "parse") + [BANNER] + _messages(model, "steps")
    lines.append(f"{detector.convention.value} convention selected.")
    lines.append("pivoting detector around sample" if detector.pivot == Pivot.SAMPLE
                 else "pivoting detector around direct beam spot")
    lines.append("XDS incident beam: " + _g(*geometry.xds_incident_beam))
    lines += _messages(model, "interpolation") + _user_cell_oddball_lines(model) + _messages(model, "cell")
    if config.random_misset_deg is not None:
        lines.append("random orientation misset angles: %f %f %f deg" % config.random_misset_deg)
    lines += _cell_lines(model, lattice) + _crystal_size_lines(model, lattice)
    lines += _messages(model, "oversample") + [_molecular_weight_line(model, lattice)] + _messages(model, "hkl")
    for tic in range(detector.thicksteps):
        lines.append("thick%d = %g um" % (tic, float(layer_thickness) * tic * 1e6))
    phi_start = float(model.crystal.params["phi_start"]) / RTD
    phi_step = _phi_step_rad(model)
    lines += ["phi%d = %g" % (tic, (phi_start + phi_step * tic) * RTD) for tic in range(crystal.phisteps)]
    source_lines, divsteps = _source_lines(model, geometry)
    lines += source_lines
    lines.append("  created a total of %d mosaic domains" % crystal.mosaic_domains)
    table = crystal.structure_factors
    lines.append("  %d initialized hkls (all others =%g)" % (0 if table is None else table.hkls, crystal.default_F))
    lines.append("  %s xtal: %.0fx%.0fx%.0f cells" % (_SHAPE_NAMES[crystal.shape], *crystal.N_cells))
    lines.append("  wave=%g meters +/- %g%% in %d steps" % (
        float(model.beam.params["wavelength"]) / 1.0e10, beam.dispersion_percent, beam.grid.dispsteps))
    lines.append("  polarization effect disabled" if beam.nopolar
                 else "  Kahn polarization factor: %f" % float(model.beam.params["polarization"]))
    if detector.curved:
        lines.append("  curved detector: all pixels same distance from origin")
    if detector.point_pixel:
        lines.append("  pixel obliquity effect disabled")
    lines.append("  incident fluence: %g photons/m^2" % float(model.beam.params["fluence"]))
    lines.append("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)" % (
        float(geometry.distance), float(geometry.detsize_f), float(geometry.detsize_s), float(geometry.pixel_size),
        detector.fpixels, detector.spixels))
    thickness_m = float(model.detector.params["detector_thickness"]) * 1e-6 if "detector_thickness" in model.detector.params else 0.0
    lines.append("  sensor is %g m thick in %d layers with mu= %g" % (thickness_m, detector.thicksteps, float(mu)))
    lines.append("  Xbeam=%g Ybeam=%g" % (float(geometry.Xbeam), float(geometry.Ybeam)))
    lines.append("  Fbeam=%g Sbeam=%g" % (float(geometry.Fbeam), float(geometry.Sbeam)))
    lines.append("  Xclose=%g Yclose=%g" % (float(geometry.Xclose), float(geometry.Yclose)))
    lines.append("  Fclose=%g Sclose=%g" % (float(geometry.Fclose), float(geometry.Sclose)))
    for label, vector in (("X", geometry.fdet), ("Y", geometry.sdet), ("Z", geometry.odet)):
        lines.append(f"  DIRECTION_OF_DETECTOR_{label}-AXIS= " + _g(*vector))
    lines.append("  INCIDENT_BEAM_DIRECTION= " + _g(*geometry.beam))
    lines.append("  spindle ROTATION_AXIS= " + _g(*detector.spindle_vector))
    polar = torch.tensor(detector.polar_vector, dtype=torch.float64)
    lines.append("  POLARIZATION_PLANE_NORMAL= " + _g(*cross(geometry.beam, polar)))
    lines.append("  dials origin= " + _g(*geometry.dials_origin_mm))
    lines.append("  roi: %d < x < %d && %d < y < %d" % detector.roi)
    lines += _divergence_summary(model, divsteps)
    spread = float(model.crystal.params["mosaic_spread"]) if "mosaic_spread" in model.crystal.params else crystal.mosaic_spread_deg
    lines.append("  %d mosaic domains over mosaic spread of %g degrees" % (crystal.mosaic_domains, spread))
    osc = float(model.crystal.params["osc_range"]) if "osc_range" in model.crystal.params else crystal.osc_range_deg
    lines.append("  %d phi steps from %g to %g degrees" % (crystal.phisteps, phi_start * RTD, (phi_start + osc / RTD) * RTD))
    flags = "".join(name for name, on in ((" +thick", detector.oversample_thick), (" +polar", detector.oversample_polar),
                                          (" +omega", detector.oversample_omega)) if on)
    lines.append("  %dx%d pixel oversample steps%s" % (detector.oversample, detector.oversample, flags))
    if detector.mask is not None:
        lines.append(f"  skipping zero-flagged pixels in {raw.maskfilename}")
    return lines


def _phi_step_rad(model: Simulator) -> float:
    rule = model.config.crystal.phistep_rule
    if "osc_range" in model.crystal.params:
        return rule.step(float(model.crystal.params["osc_range"]) / RTD)
    return rule.fixed / RTD


def _divergence_summary(model: Simulator, divsteps: int) -> list:
    beam = model.config.beam
    lines = []
    for name, rule_name, given in (("h", "hdivstep_rule", beam.hdivrange_mrad), ("v", "vdivstep_rule", beam.vdivrange_mrad)):
        range_rad = float(model.beam._range(f"{name}divrange", 1000.0, given))
        step = getattr(beam.grid, rule_name).step(range_rad)
        lines.append("  %sdivrange=%g %sdivstep=%g  radians" % (name, range_rad, name, step))
    lines.append("  %d divergence steps" % divsteps)
    lines.append("  %d sources" % beam.n_sources)
    return lines


def noise_parameter_lines(seed: int, water_size_um: float) -> list:
    return ["", "  noise image paramters:", "  seed: %d" % seed, "  water droplet size: %g m" % (water_size_um / 1e6)]


def pixel_trace_lines(model: Simulator, fast: int, slow: int, pixel_value: float) -> list:
    """The ``-printout_pixel`` trace of the C program (its last evaluation's values)."""
    with torch.no_grad():
        values = model.trace_pixel(fast, slow).values
    position = [float(x) for x in values["position"]]
    twotheta = math.atan2(math.sqrt(position[1] ** 2 + position[2] ** 2), position[0])
    lambda0_A = float(model.beam.params["wavelength"])
    hkl = [float(x) for x in values["hkl"]]
    hkl0 = [math.ceil(x - 0.5) for x in hkl]
    steps = model.config.steps
    lattice_factor = float(values["F_latt"]) * _c_sincg_sign(model, hkl0)
    lines = [
        "%4d %4d : stol = %g or %g" % (fast, slow, float(values["stol"]) * 1e10, math.sin(twotheta / 2.0) / lambda0_A),
        "at %g %g %g" % tuple(position),
        "hkl= %f %f %f  hkl0= %d %d %d" % (*hkl, *hkl0),
        " F_cell=%g  F_latt=%g   I = %g" % (float(values["F_cell"]), lattice_factor, float(values["I"])),
        "I/steps %15.10g" % (float(values["I"]) / steps),
        "polar   %15.10g" % float(values["polar"]),
        "omega   %15.10g" % float(values["omega"]),
        "capfrac %15.10g" % float(values["capture"]),
        "pixel   %15.10g" % pixel_value,
    ]
    return lines + _vector_table("real-space cell vectors (Angstrom):", ("a", "b", "c"), values["real_vectors"])


def _c_sincg_sign(model: Simulator, hkl0: list) -> float:
    """Sign of the C's sin(pi N h)/sin(pi h) relative to the fractional form: (-1)^((N-1) h0) per axis.

    torch_sim evaluates the lattice factor on the fractional index (identical up to
    this sign for whole N, and the intensity uses its square); the trace prints the C's value.
    """
    if model.config.crystal.shape != CrystalShape.SQUARE:
        return 1.0
    sign = 1.0
    for n, h0 in zip(model.config.crystal.N_cells, hkl0):
        if n > 1 and float(n).is_integer() and (int(n) - 1) * h0 % 2:
            sign = -sign
    return sign


def statistics_lines(stats: ImageStatistics) -> list:
    return [
        "max_I = %g  at %g %g" % (stats.max_I, stats.max_I_fast_m, stats.max_I_slow_m),
        "mean= %g rms= %g rmsd= %g" % (stats.mean, stats.rms, stats.rmsd),
    ]
