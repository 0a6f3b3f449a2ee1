"""X-ray sources and the C program's step auto-selection, component by component.

The golden cases print the divergence grid (``divergence deviation:``), the
wavelengths (``lambda%d = %.15g``), the source list, the step counts and the
divergence ranges; here they are rebuilt from ``Simulator.beam.sources`` and the
resolved configuration and compared at the printed precision. The step-selection
functions of ``torch_sim.config.sampling_steps`` are compared branch by branch with a
hand-port (in this file) of nanoBragg.c's "default sampling logic" (L1380-1690).
"""

import itertools
import math

import numpy as np
import pytest
import torch

from golden import CASES, resolved_case, stdout_lines
from torch_sim.config.resolve import resolve_arguments
from torch_sim.config.sampling_steps import divergence_steps, mosaic_domain_count, phi_steps, thickness_steps
from torch_sim.functional.sources import source_grid
from torch_sim.modules.simulator import Simulator
from torch_sim.units import RTD

SOURCE_CASES = ["divergence_round", "divergence_square", "dispersion", "sourcefile"]


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def golden_beam(tmp_path_factory):
    """(config, simulator, (incident, wavelength_A, weights)) of a golden case."""
    cache = {}

    def get(name):
        if name not in cache:
            config, _ = resolved_case(name, tmp_path_factory.mktemp(f"src_{name}"))
            model = Simulator(config)
            with torch.no_grad():
                beam = torch.tensor(config.detector.beam_vector, dtype=torch.float64)
                polar = torch.tensor(config.detector.polar_vector, dtype=torch.float64)
                sources = model.beam.sources(beam, polar)
            cache[name] = (config, model, sources)
        return cache[name]

    return get


def g_token(value: float) -> str:
    """``%g`` of a value; a zero prints as the C prints the same zero up to its sign."""
    text = "%g" % float(value)
    return "0" if text == "-0" else text


def unsigned_zero(tokens):
    return ["0" if token == "-0" else token for token in tokens]


def printed_lines(name: str, prefix: str) -> list:
    return [line for line in stdout_lines(name) if line.startswith(prefix)]


def printed_source_list(name: str) -> list:
    lines = stdout_lines(name)
    start = next(k for k, line in enumerate(lines) if line.startswith("  created a total of") and "sources" in line)
    count = int(lines[start].split()[4])
    return lines[start + 1:start + 1 + count]


def grid_ranges(config, model):
    """(hrange, vrange, dispersion fraction) and their steps, from the beam parameters."""
    beam, grid = config.beam, config.beam.grid
    p = model.beam.params
    hrange = float(p["hdivrange"]) / 1000 if "hdivrange" in p else beam.hdivrange_mrad / 1000
    vrange = float(p["vdivrange"]) / 1000 if "vdivrange" in p else beam.vdivrange_mrad / 1000
    dispersion = float(p["dispersion"]) / 100 if "dispersion" in p else beam.dispersion_percent / 100
    return (hrange, grid.hdivstep_rule.step(hrange)), (vrange, grid.vdivstep_rule.step(vrange)), \
        (dispersion, grid.dispstep_rule.step(dispersion))


# ----------------------------------------------------------------------------- golden: generated grids

@pytest.mark.parametrize("name", SOURCE_CASES)
def test_divergence_deviations_match_c(golden_beam, name):
    config, model, _ = golden_beam(name)
    printed = printed_lines(name, "divergence deviation:")
    if config.beam.source_file is not None:
        assert printed == []
        return
    (hrange, hstep), (vrange, vstep), _ = grid_ranges(config, model)
    ours = ["divergence deviation: %s %s" % (g_token(hstep * h - hrange / 2), g_token(vstep * v - vrange / 2))
            for h, v in np.argwhere(config.beam.grid.kept)]
    assert ours == [" ".join(unsigned_zero(line.split())) for line in printed]


@pytest.mark.parametrize("name", SOURCE_CASES)
def test_wavelength_lines_match_c(golden_beam, name):
    config, _, (_, wavelength_A, _) = golden_beam(name)
    printed = [line for line in stdout_lines(name) if line.startswith("lambda") and " = " in line]
    if config.beam.source_file is not None:
        assert printed == []
        return
    dispsteps = config.beam.grid.dispsteps
    ours = ["lambda%d = %.15g" % (tic, float(wavelength_A[tic]) / 1e10) for tic in range(dispsteps)]
    assert ours == printed


@pytest.mark.parametrize("name", list(CASES))
def test_source_list_matches_c(golden_beam, name):
    """X Y Z (the source position, 10 m from the sample, before normalisation), weight, wavelength (m)."""
    config, _, (incident, wavelength_A, weights) = golden_beam(name)
    printed = printed_source_list(name)
    assert incident.shape[0] == len(printed) == config.beam.n_sources
    if config.beam.source_file is not None:
        rows = config.beam.source_file.printed_rows
        ours = ["%s %s %s   %s %s" % tuple(g_token(x) for x in row) for row in rows]
        # the model's directions are the rows' unit vectors, with the file's weights and wavelengths
        xyz = rows[:, :3]
        np.testing.assert_allclose(incident.numpy(), -xyz / np.linalg.norm(xyz, axis=1, keepdims=True), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(weights.numpy(), rows[:, 3])
        np.testing.assert_allclose(wavelength_A.numpy(), rows[:, 4] * 1e10, rtol=1e-15)
    else:
        n = incident.shape[0]
        ours = ["%s %s %s   %s %s" % (*(g_token(-10.0 * float(x)) for x in incident[k]), g_token(1.0 / n),
                                      g_token(float(wavelength_A[k]) / 1e10)) for k in range(n)]
        np.testing.assert_array_equal(weights.numpy(), np.ones(n))
    assert ours == [" ".join(unsigned_zero(line.split(" "))) for line in printed]


@pytest.mark.parametrize("name", list(CASES))
def test_step_summary_lines_match_c(golden_beam, name):
    config, model, (incident, _, _) = golden_beam(name)
    lines = stdout_lines(name)
    divsteps = -1 if config.beam.source_file is not None else int(config.beam.grid.kept.sum())
    assert "  %d divergence steps" % divsteps in lines
    assert "  %d sources" % config.beam.n_sources in lines
    assert incident.shape[0] == config.beam.n_sources
    (hrange, hstep), (vrange, vstep), _ = grid_ranges(config, model)
    assert "  hdivrange=%g hdivstep=%g  radians" % (hrange, hstep) in lines
    assert "  vdivrange=%g vdivstep=%g  radians" % (vrange, vstep) in lines
    assert "  wave=%g meters +/- %g%% in %d steps" % (
        float(model.beam.params["wavelength"]) / 1e10, config.beam.dispersion_percent, config.beam.grid.dispsteps) in lines


@pytest.mark.parametrize("name", list(CASES))
def test_phi_thickness_and_mosaic_lines_match_c(golden_beam, name):
    """``thick%d = %g um``, ``phi%d = %g``, the mosaic-domain and phi-range summaries, from the config."""
    config, _, _ = golden_beam(name)
    lines = stdout_lines(name)
    detector, crystal = config.detector, config.crystal
    layer_um = detector.thickness_um / detector.thickstep_divisor
    assert [line for line in lines if line.startswith("thick")] == [
        "thick%d = %g um" % (tic, layer_um * 1e-6 * tic * 1e6) for tic in range(detector.thicksteps)]
    phi0 = crystal.phi_start_deg / RTD
    step = crystal.phistep_rule.step(crystal.osc_range_deg) / RTD
    assert [line for line in lines if line.startswith("phi") and " = " in line] == [
        "phi%d = %g" % (tic, (phi0 + step * tic) * RTD) for tic in range(crystal.phisteps)]
    assert "  %d mosaic domains over mosaic spread of %g degrees" % (
        crystal.mosaic_domains, crystal.mosaic_spread_deg) in lines
    assert "  created a total of %d mosaic domains" % crystal.mosaic_domains in lines
    assert "  %d phi steps from %g to %g degrees" % (
        crystal.phisteps, phi0 * RTD, (phi0 + crystal.osc_range_deg / RTD) * RTD) in lines
    assert "  sensor is %g m thick in %d layers with mu= %g" % (
        detector.thickness_um * 1e-6, detector.thicksteps,
        (1e6 / detector.abs_depth_um if detector.abs_depth_um else 1e6 / detector.thickness_um)
        if detector.thickness_um > 0 else -1.0) in lines


def test_single_domain_keeps_its_mosaic_spread_in_the_printout():
    from torch_sim.cli import report

    argv = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "1", "-detpixels", "8",
            "-mosaic", "1", "-mosaic_domains", "1"]
    config, raw = resolve_arguments(argv)
    assert (config.crystal.mosaic_domains, config.crystal.mosaic_spread_deg) == (1, 1.0)
    lines = report.preamble_lines(Simulator(config), raw)
    assert "  1 mosaic domains over mosaic spread of 1 degrees" in lines


@pytest.mark.parametrize("name", ["divergence_round", "divergence_square", "dispersion"])
def test_generated_source_directions(golden_beam, name):
    """Each kept (hdiv, vdiv): -beam rotated about the polarization axis by vdiv, then about beam x polar by hdiv."""
    config, model, (incident, wavelength_A, _) = golden_beam(name)
    (hrange, hstep), (vrange, vstep), (dispersion, dispstep) = grid_ranges(config, model)
    beam = np.array(config.detector.beam_vector, dtype=float)
    polar = np.array(config.detector.polar_vector, dtype=float)
    vertical = np.cross(beam, polar)
    vertical /= np.linalg.norm(vertical)

    def rotate(v, axis, angle):  # Rodrigues, right-handed
        return v * math.cos(angle) + np.cross(axis, v) * math.sin(angle) + axis * (axis @ v) * (1 - math.cos(angle))

    expected = []
    for h, v in np.argwhere(config.beam.grid.kept):
        toward = rotate(rotate(-beam, polar, vstep * v - vrange / 2), vertical, hstep * h - hrange / 2)
        expected += [-toward] * config.beam.grid.dispsteps
    np.testing.assert_allclose(incident.numpy(), np.array(expected), rtol=0, atol=1e-15)
    lambda0 = float(model.beam.params["wavelength"])
    tics = np.arange(config.beam.grid.dispsteps)
    np.testing.assert_allclose(wavelength_A.numpy().reshape(-1, len(tics)),
                               np.broadcast_to(lambda0 * (1 + dispstep * tics - dispersion / 2), (len(expected) // len(tics), len(tics))),
                               rtol=1e-15)


def test_sources_are_differentiable_in_divergence_range(golden_beam):
    config, model, _ = golden_beam("divergence_round")
    hdiv = model.beam.params["hdivrange"]
    hdiv.requires_grad_(True)
    try:
        incident, _, _ = model.beam.sources(torch.tensor(config.detector.beam_vector, dtype=torch.float64),
                                            torch.tensor(config.detector.polar_vector, dtype=torch.float64))
        incident[:, 2].abs().sum().backward()  # hdiv swings the beam about beam x polar = -y: in x-z
        assert hdiv.grad is not None and torch.isfinite(hdiv.grad) and float(hdiv.grad) != 0.0
    finally:
        hdiv.requires_grad_(False)
        hdiv.grad = None


# ----------------------------------------------------------------------------- hand-port of the C step logic

def c_divergence(steps, range_, step):
    """nanoBragg.c's hdiv/vdiv/dispersion auto-selection and sanity check (-1: not given)."""
    if steps <= 0:
        if range_ < 0.0:
            if step <= 0.0:
                steps, range_, step = 1, 0.0, 0.0
            else:
                range_, steps = step, 2
        else:
            if step <= 0.0:
                step, steps = range_, 2
            else:
                steps = math.ceil(range_ / step)
    else:
        if range_ < 0.0:
            if step <= 0.0:
                range_ = 1.0
                step = range_ / steps
            else:
                range_, steps = step, 2
        else:
            if step <= 0.0:
                if steps <= 1:
                    steps = 2
                step = range_ / (steps - 1)
    if range_ <= 0.0 or step <= 0.0 or steps <= 0:
        steps, range_, step = 1, 0.0, 0.0
    return steps, range_, step


def c_phi(steps, osc, step):
    """nanoBragg.c's phi auto-selection (radians; no sanity check follows)."""
    if steps < 0:
        if osc < 0.0:
            if step <= 0.0:
                steps, osc, step = 1, 0.0, 0.0
            else:
                osc, steps = step, 2
        else:
            if step <= 0.0:
                steps, step = 2, osc / 2.0
            else:
                steps = math.ceil(osc / step)
    else:
        if steps == 0:
            steps = 1
        if osc < 0.0:
            if step <= 0.0:
                osc = 1.0 / RTD
                step = osc / steps
            else:
                osc, steps = step, 2
        else:
            if step < 0.0:
                step = osc / steps
    return steps, osc, step


def c_thickness(steps, thick):
    """nanoBragg.c's sensor-layer selection (metres; there is no flag for the layer step)."""
    step = -1.0
    if steps <= 0:
        if thick < 0.0:
            steps, thick, step = 1, 0.0, 0.0
        else:
            steps = 2
            step = thick / steps
    else:
        if thick < 0.0:
            thick = 0.5e-6
            step = thick / steps
        else:
            if steps <= 1:
                steps = 2
            step = thick / (steps - 1)
    if thick <= 0.0 or step <= 0.0 or steps <= 0:
        steps, thick, step = 1, 0.0, 0.0
    return steps, thick, step


def c_mosaic(domains, spread):
    """nanoBragg.c's mosaic-domain selection: (domains, spread, warning or None)."""
    warning = None
    if domains <= 0:
        if spread < 0.0:
            domains, spread = 1, 0.0
        elif spread == 0.0:
            domains = 1
        else:
            warning = "WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains"
            domains = 10
    else:
        if spread < 0.0:
            warning = "WARNING: no mosaic spread specified.  setting mosaic_domains = 1"
            spread, domains = 0.0, 1
        elif spread == 0.0:
            warning = "WARNING: zero mosaic spread specified.  setting mosaic_domains = 1"
            domains = 1
    return domains, spread, warning


def _given(value, missing):
    return missing if value is None else value


DIV_STEPS = [None, -2, 0, 1, 2, 3, 4]
DIV_RANGES = [None, -0.5e-3, 0.0, 0.6e-3, 1e-3]
DIV_STEP_SIZES = [None, 0.0, 0.2e-3, 0.3e-3, 2e-3]


@pytest.mark.parametrize("steps, range_, step", list(itertools.product(DIV_STEPS, DIV_RANGES, DIV_STEP_SIZES)))
def test_divergence_steps_every_branch(steps, range_, step):
    expected = c_divergence(_given(steps, -1), _given(range_, -1.0), _given(step, -1.0))
    n, r, rule = divergence_steps(steps, range_, step)
    assert (n, r, rule.step(r)) == expected


@pytest.mark.parametrize("steps, dispersion", list(itertools.product([None, 0, 1, 2, 5], [0.0, 0.02, 0.1])))
def test_dispersion_steps_every_branch(steps, dispersion):
    """Dispersion: default range 0 (not -1) and no step flag."""
    expected = c_divergence(_given(steps, -1), dispersion, -1.0)
    n, r, rule = divergence_steps(steps, dispersion, None)
    assert (n, r, rule.step(r)) == expected


PHI_STEPS = [None, -3, 0, 1, 2, 5]
PHI_OSC = [None, -1.0, 0.0, 1.0, 2.5]
PHI_STEP_SIZES = [None, -0.5, 0.0, 0.25, 1.0]


@pytest.mark.parametrize("steps, osc, step", list(itertools.product(PHI_STEPS, PHI_OSC, PHI_STEP_SIZES)))
def test_phi_steps_every_branch(steps, osc, step):
    """Degrees in torch_sim, radians in the C: compare after the C's /RTD."""
    c_steps, c_osc, c_step = c_phi(_given(steps, -1), _given(osc, -1.0) / RTD if osc is not None else -1.0,
                                   _given(step, -1.0) / RTD if step is not None else -1.0)
    n, osc_deg, rule = phi_steps(steps, osc, step)
    assert n == c_steps
    assert osc_deg / RTD == pytest.approx(c_osc, rel=1e-15, abs=0)
    assert rule.step(osc_deg) / RTD == pytest.approx(c_step, rel=1e-15, abs=0)




def _thickness_cases():
    return [pytest.param(steps, thick, id=f"{steps}-{thick}")
            for steps, thick in itertools.product([None, -1, 0, 1, 2, 3, 5], [-5.0, 0.0, 50.0, 100.0])]


@pytest.mark.parametrize("steps, thick_um", _thickness_cases())
def test_thickness_steps_every_branch(steps, thick_um):
    c_steps, c_thick, c_step = c_thickness(_given(steps, -1), thick_um * 1e-6)
    n, thickness_um, divisor = thickness_steps(steps, thick_um)
    assert n == c_steps
    assert thickness_um * 1e-6 == pytest.approx(c_thick, rel=1e-15, abs=0)
    assert thickness_um / divisor * 1e-6 == pytest.approx(c_step, rel=1e-15, abs=0)


@pytest.mark.parametrize("domains, spread", list(itertools.product([None, -1, 0, 1, 5, 12], [None, -1.0, 0.0, 0.3])))
def test_mosaic_domain_count_every_branch(domains, spread):
    assert mosaic_domain_count(domains, spread) == c_mosaic(_given(domains, -1), _given(spread, -1.0))


# ----------------------------------------------------------------------------- elliptical trimming

def c_kept(hsteps, hrange, hstep, vsteps, vrange, vstep, round_div=True):
    kept = np.zeros((hsteps, vsteps), dtype=bool)
    for h in range(hsteps):
        for v in range(vsteps):
            hdiv = hstep * h - hrange / 2.0
            vdiv = vstep * v - vrange / 2.0
            with np.errstate(divide="ignore", invalid="ignore"):
                test = (np.float64(hdiv * hdiv - hstep * hstep / 4.0 * (1 - hsteps % 2)) / hrange) / hrange
                test += (np.float64(vdiv * vdiv - vstep * vstep / 4.0 * (1 - vsteps % 2)) / vrange) / vrange
            kept[h, v] = not (round_div and test * 4.0 > 1.1)
    return kept


@pytest.mark.parametrize("args", [
    ["-hdivrange", "0.6", "-hdivsteps", "4", "-vdivrange", "0.4", "-vdivsteps", "3"],
    ["-divergence", "1", "-divsteps", "5"],
    ["-divergence", "1", "-divsteps", "6"],
    ["-hdivrange", "0.6", "-hdivstep", "0.2", "-vdivrange", "0.4", "-vdivstep", "0.2"],
    ["-hdivrange", "0.6", "-hdivstep", "0.2", "-vdivrange", "0.4", "-vdivstep", "0.2", "-square_div"],
    ["-hdivrange", "0.5", "-hdivsteps", "3"],
    ["-vdivsteps", "4"],
    [],
])
def test_divergence_grid_from_the_command_line(args):
    config, raw = resolve_arguments(["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "1", "-detpixels", "8", *args])
    mrad = lambda x: -1.0 if x is None else x / 1000.0
    hsteps, hrange, hstep = c_divergence(_given(raw.hdivsteps, -1), mrad(raw.hdivrange_mrad), mrad(raw.hdivstep_mrad))
    vsteps, vrange, vstep = c_divergence(_given(raw.vdivsteps, -1), mrad(raw.vdivrange_mrad), mrad(raw.vdivstep_mrad))
    grid = config.beam.grid
    assert (grid.hdivsteps, grid.vdivsteps) == (hsteps, vsteps)
    expected = c_kept(hsteps, hrange, hstep, vsteps, vrange, vstep, raw.round_div)
    np.testing.assert_array_equal(grid.kept, expected)
    assert config.beam.n_sources == int(expected.sum())
    incident, wavelength, weights = source_grid(
        config.beam, torch.tensor(config.detector.beam_vector, dtype=torch.float64),
        torch.tensor(config.detector.polar_vector, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64),
        torch.tensor(hrange, dtype=torch.float64), torch.tensor(vrange, dtype=torch.float64),
        torch.tensor(0.0, dtype=torch.float64))
    assert incident.shape == (int(expected.sum()), 3)
    np.testing.assert_allclose(torch.linalg.norm(incident, dim=1).numpy(), 1.0, rtol=1e-15)


def test_steps_normalisation_counts_every_sampling_axis():
    config, _ = resolve_arguments([
        "-cell", "70", "80", "90", "90", "90", "90", "-default_F", "1", "-detpixels", "8",
        "-hdivrange", "0.6", "-hdivsteps", "4", "-vdivrange", "0.4", "-vdivsteps", "3", "-dispersion", "1",
        "-dispsteps", "3", "-mosaic", "0.5", "-mosaic_domains", "4", "-phi", "1", "-osc", "2", "-phisteps", "3",
        "-oversample", "2"])
    assert config.beam.n_sources == 8 * 3
    assert config.steps == 8 * 3 * 4 * 3 * 2 * 2
