"""Refinement losses and restraints against hand computation."""

import math

import pytest
import torch

from torch_sim.errors import InputError
from torch_sim.refinement import (
    GaussianRestraints,
    LeastSquaresLoss,
    PoissonLoss,
    gaussian_restraints,
    least_squares,
    photon_counts,
    poisson_nll,
)

EXPECTED = torch.tensor([2.0, 0.5, 3.0, 0.0], dtype=torch.float64)
COUNTS = torch.tensor([3.0, 0.0, 1.0, 2.0], dtype=torch.float64)


def _poisson_by_hand(expected, counts, background=0.0, keep=(0, 1, 2, 3), weights=(1, 1, 1, 1)):
    total = 0.0
    for i in keep:
        mu = max(expected[i] + background, 1e-10)
        n = counts[i]
        total += weights[i] * (mu - n + (n * math.log(n / mu) if n > 0 else 0.0))
    return total


def test_poisson_nll_matches_hand_computation():
    e, n = EXPECTED.tolist(), COUNTS.tolist()
    assert float(poisson_nll(EXPECTED, COUNTS, background=0.5)) == pytest.approx(_poisson_by_hand(e, n, 0.5))
    mask = torch.tensor([True, True, False, True])
    weights = torch.tensor([1.0, 2.0, 5.0, 0.5], dtype=torch.float64)
    assert float(poisson_nll(EXPECTED, COUNTS, 0.5, mask, weights)) == pytest.approx(
        _poisson_by_hand(e, n, 0.5, keep=(0, 1, 3), weights=weights.tolist()))


def test_poisson_nll_differs_from_full_nll_by_a_data_constant():
    counts = torch.tensor([3.0, 0.0, 1.0], dtype=torch.float64)
    for mu in (torch.tensor([2.0, 0.5, 3.0]), torch.tensor([1.0, 1.5, 0.7])):
        mu = mu.to(torch.float64)
        full = (mu - counts * torch.log(mu) + torch.lgamma(counts + 1)).sum()
        saturated = sum(n - (n * math.log(n) if n > 0 else 0.0) + math.lgamma(n + 1) for n in counts.tolist())
        assert float(poisson_nll(mu, counts)) == pytest.approx(float(full) - saturated)


def test_poisson_nll_is_zero_for_a_perfect_model_and_has_finite_gradient_at_zero_model():
    counts = torch.tensor([4.0, 0.0, 7.0], dtype=torch.float64)
    assert float(poisson_nll(counts.clone(), counts)) == pytest.approx(0.0, abs=1e-9)
    expected = torch.tensor([0.0, 0.0, 7.0], dtype=torch.float64, requires_grad=True)
    loss = poisson_nll(expected, counts)
    loss.backward()
    assert math.isfinite(float(loss.detach())) and torch.isfinite(expected.grad).all()


def test_least_squares_matches_hand_computation():
    mask = torch.tensor([True, False, True, True])
    weights = torch.tensor([2.0, 1.0, 1.0, 0.25], dtype=torch.float64)
    by_hand = 0.5 * sum(w * (n - e - 1.0) ** 2 for i, (e, n, w) in enumerate(zip(EXPECTED.tolist(), COUNTS.tolist(),
                                                                                  weights.tolist())) if mask[i])
    assert float(least_squares(EXPECTED, COUNTS, 1.0, mask, weights)) == pytest.approx(by_hand)


def test_adc_offset_and_modules():
    observed = COUNTS + 40.0
    assert torch.equal(photon_counts(observed, 40.0), COUNTS)
    assert torch.equal(photon_counts(torch.tensor([38.0]), 40.0), torch.tensor([0.0]))
    background = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    assert float(PoissonLoss(observed, 40.0, background)(EXPECTED)) == pytest.approx(
        float(poisson_nll(EXPECTED, COUNTS, background)))
    assert float(LeastSquaresLoss(observed, 40.0, 0.3)(EXPECTED, background=0.5)) == pytest.approx(
        float(least_squares(EXPECTED, COUNTS, 0.5)))


def test_gaussian_restraints():
    values = torch.tensor([70.1, 100.3, 0.2], dtype=torch.float64)
    restraints = GaussianRestraints(["cell_a", "distance", "mosaic_spread"], {"distance": (100.0, 0.5),
                                                                              "cell_a": (70.0, 0.2)})
    assert float(restraints(values)) == pytest.approx(0.5 * (0.3 / 0.5) ** 2 + 0.5 * (0.1 / 0.2) ** 2)
    assert restraints.hessian_diagonal(3).tolist() == pytest.approx([25.0, 4.0, 0.0])
    assert float(gaussian_restraints(values[:1], torch.tensor([70.0]), torch.tensor([0.1]))) == pytest.approx(0.5)
    with pytest.raises(InputError, match="not refined"):
        GaussianRestraints(["cell_a"], {"distance": (100.0, 1.0)})
    with pytest.raises(InputError, match="positive width"):
        GaussianRestraints(["cell_a"], {"cell_a": (70.0, 0.0)})
