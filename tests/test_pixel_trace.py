"""Per-pixel physics: the golden ``-printout_pixel`` traces, component by component, and
unit tests of the functionals the pixel kernel is built from.

The C program prints, for one pixel, the values of its last evaluation (nanoBragg.c
L3052-3071): stol (1/m; ``Simulator.trace_pixel`` holds 1/A), the subpixel position,
fractional and nearest hkl, F_cell, F_latt, I, I/steps, polar, omega, capture fraction,
the pixel value and the cell vectors of the last mosaic domain. F_latt in the trace is
the fractional-index form sin(pi N d)/sin(pi d), d = h - h0, which equals the C's
sin(pi N h)/sin(pi h) times (-1)^((N-1) h0) per axis (see cli/report.py).
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from golden import float_image, resolved_case, stdout_lines
from torch_sim.functional.detector_absorption import layer_capture_fraction
from torch_sim.config.enums import CrystalShape
from torch_sim.functional.lattice_shape import (
    ROUND_SCALE,
    lattice_factor,
    nearest_index,
    sinc3,
    sincg,
    sincg_with_derivatives,
)
from torch_sim.functional.polarization import polarization_factor
from torch_sim.functional.rotations import rotate_axis, rotate_umat, rotate_xyz
from torch_sim.functional.sin_cos_pi import polynomial_coefficients, sin_cos_pi
from torch_sim.functional.solid_angle import pixel_solid_angle
from torch_sim.functional.structure_factors import (
    interpolated_structure_factor,
    interpolation_out_of_range,
    nearest_structure_factor,
    table_with_default_border,
)
from torch_sim.functional.vector_ops import cross, dot, norm, rescale, unitize
from torch_sim.modules.simulator import Simulator

TRACE_CASES = ["mosaic_12", "oversample_3", "triclinic_misset_hkl", "detector_absorption"]
F64 = torch.float64


# ----------------------------------------------------------------------------- golden traces

@pytest.fixture(scope="module")
def golden_trace(tmp_path_factory):
    """(config, raw, model, trace values, printed trace lines) of a trace case."""
    cache = {}

    def get(name):
        if name not in cache:
            config, raw = resolved_case(name, tmp_path_factory.mktemp(f"trace_{name}"))
            model = Simulator(config)
            with torch.no_grad():
                values = model.trace_pixel(*raw.printout_pixel).values
            lines = stdout_lines(name)
            start = next(k for k, line in enumerate(lines) if " : stol = " in line)
            cache[name] = (config, raw, model, values, lines[start:start + 14])
        return cache[name]

    return get


def c_sign(config, hkl0) -> float:
    """(-1)^((N-1) h0) over the axes with N > 1: the C's sincg sign relative to the fractional form."""
    sign = 1.0
    for n, h0 in zip(config.crystal.N_cells, hkl0):
        if n > 1 and (int(n) - 1) * h0 % 2:
            sign = -sign
    return sign


def _stol(c, raw, model, v, p):
    return p[0].split(" : stol = ")[1].split(" or ")[0], "%g" % (float(v["stol"]) * 1e10)


def _stol_from_position(c, raw, model, v, p):
    x, y, z = (float(t) for t in v["position"])
    twotheta = math.atan2(math.sqrt(y * y + z * z), x)
    return p[0].split(" or ")[1], "%g" % (math.sin(twotheta / 2) / float(model.beam.params["wavelength"]))


def _pixel_label(c, raw, model, v, p):
    return p[0].split(" : ")[0], "%4d %4d" % raw.printout_pixel


def _position(c, raw, model, v, p):
    return p[1], "at %g %g %g" % tuple(float(t) for t in v["position"])


def _hkl(c, raw, model, v, p):
    return p[2].split("  hkl0=")[0], "hkl= %f %f %f" % tuple(float(t) for t in v["hkl"])


def _hkl0(c, raw, model, v, p):
    return p[2].split("  hkl0= ")[1], "%d %d %d" % tuple(math.ceil(float(t) - 0.5) for t in v["hkl"])


def _fields(line):
    """' F_cell=50  F_latt=5.46961   I = 2.48038e+06' -> (F_cell, F_latt, I) texts."""
    f_cell = line.split("F_cell=")[1].split()[0]
    f_latt = line.split("F_latt=")[1].split()[0]
    return f_cell, f_latt, line.split("I = ")[1]


def _f_cell(c, raw, model, v, p):
    return _fields(p[3])[0], "%g" % float(v["F_cell"])


def _f_latt_magnitude(c, raw, model, v, p):
    return _fields(p[3])[1].lstrip("-"), "%g" % abs(float(v["F_latt"]))


def _f_latt_with_c_sign(c, raw, model, v, p):
    hkl0 = [math.ceil(float(t) - 0.5) for t in v["hkl"]]
    return _fields(p[3])[1], "%g" % (float(v["F_latt"]) * c_sign(c, hkl0))


def _intensity(c, raw, model, v, p):
    return _fields(p[3])[2], "%g" % float(v["I"])


def _per_step(c, raw, model, v, p):
    return p[4], "I/steps %15.10g" % (float(v["I"]) / c.steps)


def _polar(c, raw, model, v, p):
    return p[5], "polar   %15.10g" % float(v["polar"])


def _omega(c, raw, model, v, p):
    return p[6], "omega   %15.10g" % float(v["omega"])


def _capture(c, raw, model, v, p):
    return p[7], "capfrac %15.10g" % float(v["capture"])


def _pixel(c, raw, model, v, p):
    # the C prints the float image value (single precision)
    return p[8], "pixel   %15.10g" % float(np.float32(float(v["value"])))


def _cell_vectors(c, raw, model, v, p):
    rows = v["real_vectors"]
    ours = ["%s: %11.8f %11.8f %11.8f" % (label, *(float(rows[k, axis]) for k in range(3)))
            for axis, label in enumerate("XYZ")]
    return p[9:14], ["real-space cell vectors (Angstrom):", p[10]] + ours


TRACE_COMPONENTS = {
    "pixel_label": _pixel_label, "stol": _stol, "stol_from_position": _stol_from_position, "position": _position,
    "hkl": _hkl, "hkl0": _hkl0, "F_cell": _f_cell, "F_latt_magnitude": _f_latt_magnitude,
    "F_latt_c_sign": _f_latt_with_c_sign, "I": _intensity, "I_per_step": _per_step, "polar": _polar,
    "omega": _omega, "capfrac": _capture, "pixel": _pixel, "cell_vectors": _cell_vectors,
}


@pytest.mark.parametrize("component", list(TRACE_COMPONENTS))
@pytest.mark.parametrize("name", TRACE_CASES)
def test_trace_component_matches_c(golden_trace, name, component):
    config, raw, model, values, printed = golden_trace(name)
    expected, ours = TRACE_COMPONENTS[component](config, raw, model, values, printed)
    assert ours == expected


@pytest.mark.parametrize("name", TRACE_CASES)
def test_trace_value_is_the_c_float_image_pixel(golden_trace, name):
    """The trace's pixel value is the C's float image value of that pixel (float32)."""
    config, raw, model, values, _ = golden_trace(name)
    fast, slow = raw.printout_pixel
    assert float(np.float32(float(values["value"]))) == pytest.approx(float(float_image(name)[slow, fast]), rel=1e-6)


def test_trace_of_thick_detector_capture_fraction(golden_trace):
    """detector_absorption: the capture fraction applied to the pixel is the last layer's, taken at its
    first subpixel (nanoBragg.c resets it per layer and computes it once per layer)."""
    config, raw, model, values, _ = golden_trace("detector_absorption")
    fast, slow = raw.printout_pixel
    with torch.no_grad():
        geometry = model.detector()
        layer_thickness, mu = (float(x) for x in model.detector.sensor())
    n = config.detector.oversample
    last = config.detector.thicksteps - 1
    sub = float(geometry.pixel_size) / n
    position = ((sub * fast * n + sub / 2) * geometry.fdet + (sub * slow * n + sub / 2) * geometry.sdet
                + last * layer_thickness * geometry.odet + geometry.pix0)
    parallax = float(dot(position / norm(position), geometry.odet))
    expected = math.exp(-last * layer_thickness * mu / parallax) - math.exp(-(last + 1) * layer_thickness * mu / parallax)
    assert float(values["capture"]) == pytest.approx(expected, rel=1e-12)
    assert layer_thickness == pytest.approx(100e-6 / 2) and mu == pytest.approx(1 / 300e-6)


# ----------------------------------------------------------------------------- lattice factors

def _t(values):
    return torch.as_tensor(values, dtype=F64)


def fractional_part(h):
    return h - nearest_index(h)


def sincg_fractional(delta, N):
    return sincg(math.pi * delta, N)


def sinc3_of_squared(x2):
    return sinc3(x2)[0]


def _factor(shape):
    def factor(h, N, *rest):
        reciprocal, fudge = (rest if len(rest) == 2 else (torch.eye(3, dtype=F64), rest[0]))
        return lattice_factor(h.movedim(-1, 0), N, reciprocal, shape, fudge)[0]
    return factor


round_lattice_factor = _factor(CrystalShape.ROUND)
gauss_lattice_factor = _factor(CrystalShape.GAUSS)
tophat_lattice_factor = _factor(CrystalShape.TOPHAT)


@pytest.mark.parametrize("N", [2, 3, 4, 5, 8, 10])
def test_sincg_fractional_matches_full_index_form_with_sign_rule(N):
    rng = np.random.default_rng(N)
    h = rng.uniform(-6.0, 6.0, size=2000)
    h = h[np.abs(h - np.round(h)) > 1e-6]  # avoid the removable singularity of the direct form
    ours = sincg_fractional(fractional_part(_t(h)), _t(float(N))).numpy()
    h0 = np.ceil(h - 0.5)
    sign = np.where(((N - 1) * h0) % 2 == 1, -1.0, 1.0)
    direct = np.sin(np.pi * N * h) / np.sin(np.pi * h)
    np.testing.assert_allclose(ours * sign, direct, rtol=1e-9, atol=1e-9)
    # both signs occur in the sample
    assert (sign < 0).any() == ((N - 1) % 2 == 1)


@pytest.mark.parametrize("N", [1.0, 2.0, 5.0, 7.5, 20.0])
def test_sincg_limit_is_N_at_whole_indices(N):
    for h in (0.0, 1.0, -3.0, 1e-12, -1e-9):
        value = sincg_fractional(fractional_part(_t(h)), _t(N))
        assert float(value) == pytest.approx(N, rel=1e-12)


def test_sincg_is_smooth_across_the_series_switch():
    """The series branch (|N pi d| < 1e-3) meets the direct form continuously, values and slopes."""
    N = _t(6.3)
    switch = 1e-3 / (math.pi * 6.3)
    d = _t([switch * (1 - 1e-9), switch * (1 + 1e-9)]).requires_grad_(True)
    values = sincg_fractional(d, N)
    assert float(values[0].detach()) == pytest.approx(float(values[1].detach()), rel=1e-12)
    (grad,) = torch.autograd.grad(values.sum(), d)
    assert float(grad[0]) == pytest.approx(float(grad[1]), rel=1e-6)


def test_sincg_gradients_are_finite_at_bragg_positions():
    h = _t([0.0, 1.0, -2.0, 3.0]).requires_grad_(True)
    N = _t(5.0).requires_grad_(True)
    value = sincg_fractional(fractional_part(h), N).sum()
    grad_h, grad_N = torch.autograd.grad(value, (h, N))
    assert torch.isfinite(grad_h).all() and torch.isfinite(grad_N).all()
    assert float(grad_N) == pytest.approx(4.0)  # d(N)/dN at each of the 4 whole indices
    np.testing.assert_allclose(grad_h.numpy(), 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype,tolerances", [(torch.float64, (1e-14, 1e-11, 1e-12)),
                                              (torch.float32, (1e-6, 1e-3, 1e-4))], ids=["float64", "float32"])
def test_sincg_closed_form_derivatives_match_autograd_of_the_value(dtype, tolerances):
    """The backward pass's sincg, derivatives and value (sines from polynomials on the fractional part), against
    autograd through the library-sine value in float64: thin and thick crystals, whole and half-integer indices.
    Errors are scaled by the size of each quantity (N, N^2 and 1)."""
    delta = torch.cat([torch.linspace(-0.5, 0.5, 4001, dtype=F64), _t([1e-9, -1e-6, 3e-5, 0.4999999])])
    for N in (1.0, 2.0, 5.5, 37.3, 250.0):
        leaf = delta.clone().requires_grad_(True)
        value = sincg(math.pi * leaf, _t(N))
        (d_delta,) = torch.autograd.grad(value.sum(), leaf)
        _, d_N = torch.func.jvp(lambda n: sincg(math.pi * delta, n), (_t(N),), (_t(1.0),))
        ours = sincg_with_derivatives(delta.to(dtype), _t(N).to(dtype))
        expected = (value.detach(), d_delta / math.pi, d_N)
        for tolerance, scale, got, want in zip(tolerances, (N, N * N, 1.0), ours, expected):
            assert got.dtype == dtype
            assert float((got.double() - want).abs().max()) <= tolerance * scale, N


@pytest.mark.parametrize("dtype,ulps", [(torch.float64, 4), (torch.float32, 4)], ids=["float64", "float32"])
def test_polynomial_sin_and_cos_of_pi_y_match_the_library(dtype, ulps):
    """The compiled backward's sin(pi y) and cos(pi y) (economized series on y minus its nearest whole number,
    signed by its parity) against the library's in float64, within a few units in the last place of 1."""
    y = torch.cat([torch.linspace(-300.0, 300.0, 200001, dtype=F64), _t([0.5, -0.5, 1.5, 1e-12, 250.25])])
    y = y.to(dtype)
    sin_y, cos_y = sin_cos_pi(y)
    y = y.double()
    reduced = y - torch.round(y)  # exact; the library's sin(pi y) of a large y would carry pi y's rounding
    sign = 1.0 - 2.0 * torch.remainder(torch.round(y), 2.0)
    tolerance = ulps * torch.finfo(dtype).eps
    assert float((sin_y.double() - sign * torch.sin(math.pi * reduced)).abs().max()) <= tolerance
    assert float((cos_y.double() - sign * torch.cos(math.pi * reduced)).abs().max()) <= tolerance


def test_economized_series_keeping_every_term_is_the_taylor_series():
    """Cut to all 16 of its terms (nothing dropped), the Chebyshev round trip gives back the Taylor coefficients
    of sin(pi r)/r and cos(pi r); cut shorter, the value at r = 0 stays exact."""
    sin_terms, cos_terms = polynomial_coefficients(16)
    for k in range(16):
        assert sin_terms[k] == pytest.approx((-1) ** k * math.pi ** (2 * k + 1) / math.factorial(2 * k + 1),
                                             rel=1e-14, abs=1e-300)
        assert cos_terms[k] == pytest.approx((-1) ** k * math.pi ** (2 * k) / math.factorial(2 * k),
                                             rel=1e-14, abs=1e-300)
    sin_terms, cos_terms = polynomial_coefficients(5)
    assert (sin_terms[0], cos_terms[0]) == (math.pi, 1.0)
    assert sin_terms[1] != pytest.approx(-math.pi**3 / 6.0, rel=1e-9)  # economized, not Taylor's


def test_square_lattice_factor_is_the_product_over_axes():
    hkl = _t([[0.1, -2.3, 4.45], [1.0, 0.0, -1.0]])
    N = _t([3.0, 4.0, 5.0])
    ours = lattice_factor(hkl.T, N, torch.eye(3, dtype=F64), CrystalShape.SQUARE, 1.0)[0]
    delta = hkl - torch.round(hkl)
    expected = torch.prod(sincg_fractional(delta, N), dim=-1)
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-15)
    assert float(ours[1]) == pytest.approx(60.0)


def _sinc3_reference(x2: float) -> float:
    """3 (sin x - x cos x)/x^3 = 3 sum_{k>=1} (-1)^(k+1) 2k x^(2k-2)/(2k+1)!, exactly in rationals."""
    x2 = Fraction(x2)
    total, power = Fraction(0), Fraction(1)
    for k in range(1, 40):
        total += (-1) ** (k + 1) * 2 * k * power / math.factorial(2 * k + 1)
        power *= x2
    return float(3 * total)


@pytest.mark.parametrize("x2", [0.0, 1e-12, 1e-6, 9.9e-5, 1e-4, 1.01e-4, 1e-3, 0.5, 2.0, 9.0, 20.0])
def test_sinc3_value_is_the_c_expression(x2):
    """Values reproduce the C's 3 (sin x/x - cos x)/x^2, cancellation near 0 included (1 at x = 0)."""
    x = math.sqrt(x2)
    c_value = 1.0 if x2 == 0 else 3.0 * (math.sin(x) / x - math.cos(x)) / x2
    assert float(sinc3_of_squared(_t(x2))) == pytest.approx(c_value, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("x2", [0.0, 1e-12, 1e-6, 9.9e-5, 1e-4, 1.01e-4, 1e-3, 0.5, 2.0, 9.0, 20.0])
def test_sinc3_derivative_is_that_of_the_smooth_function(x2):
    u = _t(x2).requires_grad_(True)
    (grad,) = torch.autograd.grad(sinc3_of_squared(u), u)
    step = 1e-7
    exact = (_sinc3_reference(x2 + step) - _sinc3_reference(max(x2 - step, 0.0))) / (x2 + step - max(x2 - step, 0.0))
    assert float(grad) == pytest.approx(exact, rel=1e-5, abs=1e-9)


def test_sinc3_matches_the_c_formula_away_from_zero():
    x = np.linspace(0.05, 12.0, 200)
    direct = 3.0 * (np.sin(x) / x - np.cos(x)) / (x * x)
    np.testing.assert_allclose(sinc3_of_squared(_t(x * x)).numpy(), direct, rtol=1e-10, atol=1e-13)


def test_sinc3_gradient_is_finite_at_zero():
    x2 = _t(0.0).requires_grad_(True)
    (grad,) = torch.autograd.grad(sinc3_of_squared(x2), x2)
    assert float(grad) == pytest.approx(-0.1)


def test_round_gauss_tophat_factors_at_and_off_bragg():
    N = _t([4.0, 5.0, 6.0])
    reciprocal = torch.diag(_t([1 / 70, 1 / 80, 1 / 90]))
    on = _t([[2.0, -1.0, 3.0]])
    assert float(round_lattice_factor(on, N, 1.0)) == pytest.approx(120 * ROUND_SCALE)
    assert float(gauss_lattice_factor(on, N, reciprocal, 1.0)) == pytest.approx(120.0)
    assert float(tophat_lattice_factor(on, N, reciprocal, 1.0)) == 120.0
    off = _t([[2.1, -1.0, 3.0]])
    hrad = (0.1 * 4.0) ** 2
    expected_round = 120 * ROUND_SCALE * _sinc3_reference(math.pi ** 2 * hrad)
    assert float(round_lattice_factor(off, N, 1.0)) == pytest.approx(expected_round, rel=1e-12)
    rad_star = (0.1 / 70) ** 2 * 120.0 ** 2
    assert float(gauss_lattice_factor(off, N, reciprocal, 2.0)) == pytest.approx(120 * math.exp(-rad_star / 0.63 * 2.0))
    far = _t([[2.45, -1.0, 3.0]])
    assert float(tophat_lattice_factor(far, N, reciprocal, 1.0)) == (120.0 if ((0.45 / 70) ** 2 * 14400 < 0.3969) else 0.0)


def test_nearest_index_is_ceil_h_minus_half():
    h = _t([-1.5, -0.5, 0.5, 1.5, 2.49, -2.51])
    assert nearest_index(h).tolist() == [math.ceil(x - 0.5) for x in h.tolist()]


# ----------------------------------------------------------------------------- structure factors

def _table():
    h, k, l = np.meshgrid(np.arange(-3, 4), np.arange(-2, 4), np.arange(-4, 2), indexing="ij")
    return h, k, l, _t(-3.0), _t([-3.0, -2.0, -4.0])


def test_nearest_structure_factor_and_default_outside():
    h, k, l, _, hkl_min = _table()
    table = _t(100 * h + 10 * k + l)
    query = _t([[0.4, 1.6, -0.5], [2.0, -2.0, -4.0], [3.6, 0.0, 0.0], [0.0, 0.0, 2.0]])
    values = nearest_structure_factor(query.T, table_with_default_border(table, _t(7.0)), hkl_min)
    assert values.tolist() == [0 + 20 - 1, 200 - 20 - 4, 7.0, 7.0]  # l0 = ceil(-0.5 - 0.5) = -1


def test_tricubic_interpolation_is_exact_for_cubics():
    """4-point Lagrange interpolation reproduces any polynomial of degree <= 3 in each index."""
    h, k, l, _, hkl_min = _table()
    cubic = lambda h, k, l: 1.0 + 0.5 * h ** 3 - 2.0 * h * k + 0.25 * k ** 2 * l + 0.1 * l ** 3 - h * k * l
    table = _t(cubic(h, k, l).astype(float))
    query = _t([[0.3, 0.7, -1.2], [-0.9, 0.0, -1.5], [0.0, 1.0, -1.0], [0.5, 0.5, -1.5]])
    assert not interpolation_out_of_range(query.T, hkl_min, tuple(table.shape)).any()
    expected = [cubic(*row) for row in query.tolist()]
    np.testing.assert_allclose(interpolated_structure_factor(query.T, table, hkl_min).numpy(), expected, rtol=1e-12)


def test_interpolation_out_of_range_follows_the_c_test():
    """C: (h - h_min + 3) > h_range or h - 2 < h_min, on any axis."""
    h, k, l, _, hkl_min = _table()
    shape = h.shape  # ranges 7, 6, 6 from -3, -2, -4
    inside = _t([[-1.0, 0.0, -2.0], [0.99, 0.99, -1.01]])
    outside = _t([[-1.01, 0.0, -2.0], [1.01, 0.0, -2.0], [0.0, 1.01, -2.0], [0.0, 0.0, -2.01], [0.0, 0.0, -0.99]])
    assert interpolation_out_of_range(inside.T, hkl_min, shape).tolist() == [False, False]
    assert interpolation_out_of_range(outside.T, hkl_min, shape).tolist() == [True] * 5


# ----------------------------------------------------------------------------- polarization

def _random_unit(rng, n):
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_polarization_unpolarized_is_half_one_plus_cos_squared():
    rng = np.random.default_rng(1)
    incident = _t(np.tile([1.0, 0.0, 0.0], (500, 1)))
    diffracted = _t(_random_unit(rng, 500))
    cos2theta = diffracted[:, 0]
    factor = polarization_factor(_t(0.0), incident, diffracted, _t([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(factor.numpy(), (0.5 * (1 + cos2theta ** 2)).numpy(), rtol=1e-15)


@pytest.mark.parametrize("twotheta_deg", [5.0, 30.0, 60.0, 90.0, 135.0])
def test_polarization_fully_polarized_in_and_out_of_plane(twotheta_deg):
    """K = 1, E along z: in the E-beam plane the factor is cos^2(2theta); perpendicular to it, 1."""
    t2 = math.radians(twotheta_deg)
    incident = _t([1.0, 0.0, 0.0])
    polar = _t([0.0, 0.0, 1.0])
    in_plane = _t([math.cos(t2), 0.0, math.sin(t2)])
    out_of_plane = _t([math.cos(t2), math.sin(t2), 0.0])
    assert float(polarization_factor(_t(1.0), incident, in_plane, polar)) == pytest.approx(math.cos(t2) ** 2, abs=1e-15)
    assert float(polarization_factor(_t(1.0), incident, out_of_plane, polar)) == pytest.approx(1.0, abs=1e-15)


def test_polarization_matches_the_c_atan2_form():
    """0.5 (1 + cos^2 - K cos(2 psi) sin^2), psi = -atan2(B_out, E_out) (nanoBragg.c polarization_factor)."""
    rng = np.random.default_rng(7)
    incident = _random_unit(rng, 300)
    diffracted = _random_unit(rng, 300)
    axis = np.array([0.2, 0.3, 0.9])
    K = 0.6
    expected = []
    for i, d in zip(incident, diffracted):
        cos2 = i @ d
        b_in = np.cross(axis, i)
        b_in /= np.linalg.norm(b_in)
        e_in = np.cross(i, b_in)
        e_in /= np.linalg.norm(e_in)
        psi = -math.atan2(d @ b_in, d @ e_in)
        expected.append(0.5 * (1 + cos2 ** 2 - K * math.cos(2 * psi) * (1 - cos2 ** 2)))
    ours = polarization_factor(_t(K), _t(incident), _t(diffracted), _t(axis))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("K", [0.0, 0.5, 1.0])
def test_polarization_is_finite_along_the_beam(K):
    incident = _t([1.0, 0.0, 0.0])
    diffracted = _t([1.0, 0.0, 0.0]).requires_grad_(True)
    kahn = _t(K).requires_grad_(True)
    factor = polarization_factor(kahn, incident, diffracted, _t([0.0, 0.0, 1.0]))
    assert float(factor.detach()) == pytest.approx(1.0)
    grads = torch.autograd.grad(factor, (diffracted, kahn))
    assert all(torch.isfinite(g).all() for g in grads)


def test_polarization_axis_along_the_beam_takes_psi_zero():
    incident = _t([1.0, 0.0, 0.0])
    diffracted = _t([math.cos(0.5), math.sin(0.5), 0.0])
    factor = polarization_factor(_t(0.8), incident, diffracted, _t([1.0, 0.0, 0.0]))
    cos2 = math.cos(0.5)
    assert float(factor) == pytest.approx(0.5 * (1 + cos2 ** 2 - 0.8 * (1 - cos2 ** 2)))
    assert torch.isfinite(factor)


# ----------------------------------------------------------------------------- solid angle and absorption

def test_solid_angle_formula():
    pixel, close = _t(1e-4), _t(0.1)
    airpath = _t([0.1, 0.11, 0.2])
    ours = pixel_solid_angle(airpath, pixel, close, point_pixel=False)
    np.testing.assert_allclose(ours.numpy(), (1e-8 / airpath ** 2 * 0.1 / airpath).numpy(), rtol=1e-15)
    assert float(ours[0]) == pytest.approx(1e-6)  # normal incidence: (pixel/distance)^2


def test_solid_angle_point_pixel_is_inverse_square():
    airpath = _t([0.1, 0.11, 0.2])
    ours = pixel_solid_angle(airpath, _t(1e-4), _t(0.1), point_pixel=True)
    np.testing.assert_allclose(ours.numpy(), (1.0 / airpath ** 2).numpy(), rtol=1e-15)


def test_solid_angle_sums_to_the_flat_detector_integral():
    """Sum over a fine grid of a 20 mm square at 100 mm = 4 arcsin(a^2 / (a^2 + d^2)) with a = half side."""
    n, side, d = 400, 0.02, 0.1
    pixel = side / n
    centres = (np.arange(n) + 0.5) * pixel - side / 2
    y, z = np.meshgrid(centres, centres)
    airpath = _t(np.sqrt(d * d + y * y + z * z))
    total = float(pixel_solid_angle(airpath, _t(pixel), _t(d), point_pixel=False).sum())
    a = side / 2
    assert total == pytest.approx(4 * math.asin(a * a / (a * a + d * d)), rel=1e-5)


@pytest.mark.parametrize("parallax", [1.0, 0.8, 0.3])
@pytest.mark.parametrize("layers", [1, 2, 5])
def test_capture_fractions_sum_to_total_absorption(layers, parallax):
    thickness, mu = 100e-6, 1.0 / 300e-6
    step = _t(thickness / layers)
    fractions = layer_capture_fraction(_t(np.arange(layers, dtype=float)), step, _t(mu), _t(parallax))
    assert float(fractions.sum()) == pytest.approx(1 - math.exp(-thickness * mu / parallax), rel=1e-13)
    assert (fractions > 0).all()
    assert torch.all(fractions[1:] < fractions[:-1])  # deeper layers catch less


def test_capture_fraction_without_attenuation_is_zero():
    assert float(layer_capture_fraction(_t(0.0), _t(50e-6), _t(0.0), _t(1.0))) == 0.0


# ----------------------------------------------------------------------------- rotations and vector helpers

def test_rotate_axis_is_rodrigues_and_right_handed():
    rng = np.random.default_rng(3)
    axis = _random_unit(rng, 1)[0]
    v = rng.normal(size=3)
    phi = 0.7
    expected = v * math.cos(phi) + np.cross(axis, v) * math.sin(phi) + axis * (axis @ v) * (1 - math.cos(phi))
    np.testing.assert_allclose(rotate_axis(_t(v), _t(axis), phi).numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(rotate_axis(_t([1.0, 0, 0]), _t([0, 0, 1.0]), math.pi / 2).numpy(), [0, 1, 0], atol=1e-15)


def test_rotate_xyz_equals_composed_axis_rotations():
    v = _t([0.3, -1.2, 2.0])
    ours = rotate_xyz(v, 0.1, -0.2, 0.3)
    step = rotate_axis(v, _t([1.0, 0, 0]), 0.1)
    step = rotate_axis(step, _t([0, 1.0, 0]), -0.2)
    step = rotate_axis(step, _t([0, 0, 1.0]), 0.3)
    np.testing.assert_allclose(ours.numpy(), step.numpy(), rtol=1e-14)


def test_rotate_umat_is_matrix_times_vector():
    rng = np.random.default_rng(5)
    umat, v = rng.normal(size=(4, 3, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(rotate_umat(_t(v), _t(umat)).numpy(), np.einsum("nij,nj->ni", umat, v), rtol=1e-14)


def test_vector_helpers():
    u, v = _t([1.0, 2.0, 3.0]), _t([-2.0, 0.5, 4.0])
    np.testing.assert_allclose(cross(u, v).numpy(), np.cross(u.numpy(), v.numpy()))
    assert float(dot(u, v)) == pytest.approx(u.numpy() @ v.numpy())
    assert float(norm(u)) == pytest.approx(math.sqrt(14))
    unit, length = unitize(u)
    assert float(length) == pytest.approx(math.sqrt(14)) and float(norm(unit)) == pytest.approx(1.0)
    zero, zero_length = unitize(_t([0.0, 0.0, 0.0]))
    assert zero.tolist() == [0.0, 0.0, 0.0] and float(zero_length) == 0.0
    assert float(norm(rescale(u, _t(5.0)))) == pytest.approx(5.0)
    x = _t([0.0, 0.0, 0.0]).requires_grad_(True)
    (grad,) = torch.autograd.grad(norm(x), x)
    assert grad.tolist() == [0.0, 0.0, 0.0]
