"""The Function ScatteringVectors: values, its analytic backward, forward mode and second derivatives."""

import pytest
import torch

from torch_sim.functional.scattering_vectors import scattering_vectors
from torch_sim.functional.vector_ops import unitize

DTYPE = torch.float64


def _inputs(seed: int = 0, n_positions: int = 5, n_sources: int = 3):
    generator = torch.Generator().manual_seed(seed)
    random = lambda *shape: torch.rand(*shape, generator=generator, dtype=DTYPE)
    position = torch.tensor([0.1, 0.0, 0.0], dtype=DTYPE)[:, None] + (random(3, n_positions) - 0.5) * 0.05  # m
    incident, _ = unitize(torch.tensor([1.0, 0.0, 0.0], dtype=DTYPE)[:, None] + (random(3, n_sources) - 0.5) * 0.1,
                          dim=0)
    wavelength_A = 1.0 + random(n_sources)
    return position, incident, wavelength_A


def test_values_are_the_diffracted_minus_incident_direction_over_the_wavelength():
    position, incident, wavelength_A = _inputs()
    S = scattering_vectors(position, incident, wavelength_A).reshape(3, position.shape[1], -1)
    for m in range(position.shape[1]):
        for j in range(incident.shape[1]):
            expected = (position[:, m] / torch.linalg.vector_norm(position[:, m]) - incident[:, j]) / wavelength_A[j]
            assert torch.allclose(S[:, m, j], expected, rtol=1e-15, atol=0.0)


def test_backward_and_forward_mode_match_finite_differences():
    inputs = [x.clone().requires_grad_() for x in _inputs()]
    assert torch.autograd.gradcheck(scattering_vectors, inputs, check_forward_ad=True)


def test_second_derivatives():
    inputs = [x.clone().requires_grad_() for x in _inputs(seed=1, n_positions=3, n_sources=2)]
    assert torch.autograd.gradgradcheck(scattering_vectors, inputs)


@pytest.mark.parametrize("needed", [0, 1, 2])
def test_backward_for_one_input_matches_the_full_backward(needed):
    values = _inputs()
    full = [x.clone().requires_grad_() for x in values]
    weights = torch.linspace(0.5, 1.5, 3 * values[0].shape[1] * values[1].shape[1], dtype=DTYPE).reshape(3, -1)
    (scattering_vectors(*full) * weights).sum().backward()
    single = [x.clone().requires_grad_(i == needed) for i, x in enumerate(values)]
    (scattering_vectors(*single) * weights).sum().backward()
    assert torch.allclose(single[needed].grad, full[needed].grad, rtol=1e-14, atol=0.0)


@pytest.mark.slow
@pytest.mark.parametrize("n_sources", [1, 3])  # compiled, the sums over subpixels differ for one source and several
def test_compiled_kernels_match_eager(n_sources):
    results = []
    for compiled in (False, True):
        leaves = [x.clone().requires_grad_() for x in _inputs(n_positions=40, n_sources=n_sources)]
        values = scattering_vectors(*leaves, compiled=compiled)
        (values * torch.linspace(0.5, 1.5, values.numel(), dtype=DTYPE).reshape(values.shape)).sum().backward()
        results.append([values.detach()] + [x.grad for x in leaves])
    for eager, compiled in zip(*results):
        assert torch.allclose(eager, compiled, rtol=1e-12, atol=1e-15 * float(eager.abs().max()))
