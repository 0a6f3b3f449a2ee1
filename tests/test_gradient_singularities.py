"""Gradients at the singular points of the model, and a backward pass over every golden case.

The C program's formulas have removable singularities (sin(N x)/sin(x) at a
Bragg position, sinc3 at 0, atan2(0, 0) in the polarization for a ray along
the beam) and parameters whose natural values are exactly 0 (misset, two-theta,
mosaic spread, divergence, dispersion). At each the backward pass must be
finite and, where the image is smooth, agree with finite differences.
"""

import pytest
import torch

import torch_sim
from golden import CASES, case_args, stage_inputs
from gradient_cases import build, image_function

#: The direct beam hits the centre of pixel (0, 0) exactly: -Xbeam 0 -Ybeam 0 in MOSFLM puts
#: the beam at half a pixel, where pixel (0, 0)'s centre lies; the scattering vector there is 0.
DIRECT_BEAM = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "50", "-N", "4", "-lambda", "1.0",
               "-distance", "50", "-detpixels", "4", "-pixel", "0.8", "-Xbeam", "0", "-Ybeam", "0",
               "-oversample", "1", "-polar", "0.9", "-noprogress"]


def _all_gradients(model) -> dict:
    for value in model.params.values():
        value.requires_grad_(True)
    model().sum().backward()
    return {name: value.grad for name, value in model.params.items()}


def test_direct_beam_pixel_is_an_exact_bragg_position():
    model = build(DIRECT_BEAM)
    trace = model.trace_pixel(0, 0).values
    assert torch.equal(trace["hkl"], torch.zeros(3, dtype=torch.float64))
    assert float(trace["F_latt"]) == 4.0**3


def test_gradients_finite_at_direct_beam():
    gradients = _all_gradients(build(DIRECT_BEAM))
    for name, gradient in gradients.items():
        assert torch.isfinite(gradient).all(), name


@pytest.mark.parametrize("name", ["N_a", "cell_a", "misset_x", "distance", "beam_x", "polarization", "wavelength"])
def test_gradcheck_at_direct_beam(name):
    f, u = image_function(build(DIRECT_BEAM), name)
    assert torch.autograd.gradcheck(f, (u,), eps=1e-6, atol=1e-6, rtol=1e-3)


@pytest.mark.parametrize("name", ["N_a", "cell_b"])
def test_second_derivative_at_direct_beam(name):
    f, u = image_function(build(DIRECT_BEAM), name)
    assert torch.autograd.gradgradcheck(f, (u,), eps=1e-6, atol=1e-5, rtol=1e-3)


ZERO_POINTS = {
    "mosaic_spread": ["-mosaic", "0.5", "-mosaic_domains", "3"],
    "misset_x": ["-misset", "0", "0", "0"],
    "twotheta": ["-twotheta", "0"],
    "detector_rotx": ["-detector_rotx", "0"],
    "hdivrange": ["-hdivrange", "0.4", "-hdivsteps", "3"],
    "vdivrange": ["-vdivrange", "0.4", "-vdivsteps", "3"],
    "dispersion": ["-dispersion", "1", "-dispsteps", "3"],
    "phi_start": ["-phi", "0"],
    "water_size": ["-water", "1"],
}
OFF_AXIS = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "50", "-N", "4", "-lambda", "1.0",
            "-distance", "50", "-detpixels", "4", "-pixel", "0.8", "-Xbeam", "12", "-Ybeam", "10",
            "-oversample", "2", "-polar", "0.9", "-noprogress"]


@pytest.mark.parametrize("name", sorted(ZERO_POINTS))
def test_gradient_at_zero_value(name):
    """Each parameter set to exactly 0: finite gradients, equal to central differences."""
    model = build(OFF_AXIS + ZERO_POINTS[name])
    parameter = model.params[name]
    with torch.no_grad():
        parameter.zero_()
    parameter.requires_grad_(True)
    image = model()
    (gradient,) = torch.autograd.grad(image.sum(), parameter)
    assert torch.isfinite(gradient)
    step = 1e-7
    with torch.no_grad():
        parameter += step
        plus = model().sum()
        parameter -= 2 * step
        minus = model().sum()
    central = (plus - minus) / (2 * step)
    assert float(gradient) == pytest.approx(float(central), rel=1e-4, abs=1e-6 * float(image.detach().abs().max()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_pass_finite_on_golden_case(name, tmp_path, monkeypatch):
    """All parameters require grad; the backward pass over (a subset of) the case's pixels is finite.

    A parameter the image does not depend on in this configuration (the Kahn
    factor under -nopolar, the cell under -tophat_spots' step function) gets no gradient.
    """
    stage_inputs(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    model = torch_sim.from_nanobragg_args(case_args(name))
    stride = max(1, model.pixel_index.numel() // 1500)
    model.pixel_index = model.pixel_index[::stride]
    gradients = _all_gradients(model)
    assert any(gradient is not None for gradient in gradients.values())
    for parameter, gradient in gradients.items():
        assert gradient is None or torch.isfinite(gradient).all(), parameter
