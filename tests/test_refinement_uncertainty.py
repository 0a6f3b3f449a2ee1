"""Standard errors on toy problems with analytic answers; optimizers and stages."""

import numpy as np
import pytest
import torch

from torch_sim.errors import InputError
from torch_sim.refinement import Convergence, Stage, minimize, resolve_stages
from torch_sim.refinement.preconditioning import central_difference_jacobian, inverse_square_root
from torch_sim.refinement.uncertainty import (
    covariance_from_information,
    fisher_information,
    forward_jacobian,
    loss_hessian,
)

DESIGN = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 5.0]], dtype=torch.float64)


def test_linear_least_squares_covariance_is_sigma2_inverse_normal_matrix():
    sigma = 0.3
    theta = torch.tensor([2.0, -1.0], dtype=torch.float64)
    model = lambda p: DESIGN @ p
    jacobian = forward_jacobian(model, theta)
    assert torch.allclose(jacobian, DESIGN)
    information = fisher_information(jacobian, torch.full((5,), 1.0 / sigma**2, dtype=torch.float64))
    result = covariance_from_information(information, ["a", "b"], "fisher")
    analytic = sigma**2 * np.linalg.inv(DESIGN.numpy().T @ DESIGN.numpy())
    assert np.allclose(result.covariance, analytic, rtol=1e-12)
    assert np.allclose(result.standard_errors, np.sqrt(np.diag(analytic)))
    assert result.correlation[0, 1] == pytest.approx(analytic[0, 1] / np.sqrt(analytic[0, 0] * analytic[1, 1]))
    assert result.positive_definite and not result.warnings
    data = model(theta) + 0.1
    hessian = loss_hessian(lambda p: 0.5 * ((data - model(p)) ** 2).sum() / sigma**2, theta)
    assert np.allclose(covariance_from_information(hessian, ["a", "b"], "hessian").covariance, analytic)


def test_poisson_rate_standard_error():
    # counts n_i ~ Poisson(rate * exposure_i): the Fisher information of the rate is sum(exposure) / rate
    exposure = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    rate = torch.tensor([3.0], dtype=torch.float64)
    jacobian = forward_jacobian(lambda r: r * exposure, rate)
    information = fisher_information(jacobian, 1.0 / (rate * exposure))
    result = covariance_from_information(information, ["rate"], "fisher")
    assert result.standard_errors[0] == pytest.approx(np.sqrt(3.0 / 7.0))


def test_degenerate_information_warns():
    result = covariance_from_information(torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64), ["a", "b"],
                                         "hessian")
    assert not result.positive_definite
    assert any("not positive definite" in w for w in result.warnings)
    zero = covariance_from_information(torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64), ["a", "b"], "fisher")
    assert np.isnan(zero.standard_errors[1]) and "do not determine b" in zero.warnings[0]


@pytest.mark.parametrize("method", ["lbfgs", "adam"])
def test_minimize_quadratic(method):
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    scales = torch.tensor([1.0, 10.0, 0.1], dtype=torch.float64)
    objective = lambda u: (((u - target) * scales) ** 2).sum()
    seen = []
    result = minimize(objective, torch.zeros(3, dtype=torch.float64), method,
                      Convergence(max_iterations=2000, relative_loss_change=1e-14, gradient_norm=1e-8),
                      lambda i, loss, g, u: seen.append(loss), learning_rate=0.05)
    assert result.converged
    assert torch.allclose(result.u, target, atol=1e-3 if method == "adam" else 1e-6)
    assert len(seen) == result.iterations


def test_stages_skip_absent_parameters_and_require_every_parameter():
    refined = ["misset_x", "beam_x", "cell_a", "twotheta"]
    stages = resolve_stages("default", refined)
    assert [s.name for s in stages] == ["orientation_beam", "cell_distance", "joint"]
    assert stages[0].params == ["misset_x", "beam_x"] and "misset_y" in stages[0].skipped
    assert stages[-1].params == refined
    custom = resolve_stages([{"name": "one", "params": ["cell_a", "N_a"], "optimizer": "adam"},
                             Stage("rest", "all", max_iterations=3)], refined)
    assert custom[0].params == ["cell_a"] and custom[0].optimizer == "adam" and custom[1].max_iterations == 3
    with pytest.raises(InputError, match="no stage refines"):
        resolve_stages([{"params": ["cell_a"]}], refined)
    with pytest.raises(InputError, match="optimizer"):
        resolve_stages([{"params": "all", "optimizer": "sgd"}], refined)
    with pytest.raises(InputError, match="resolution"):
        resolve_stages([{"params": "all", "resolution": 2}], refined)
    assert stages[0].resolution == pytest.approx(1 / 3) and stages[-1].resolution is None
    assert [s.name for s in resolve_stages("none", refined)] == ["all"]


def test_preconditioner_whitens_the_fisher_information():
    function = lambda p: torch.stack([p[0] + 10 * p[1], p[0] * p[1], 3 * p[0] ** 2, p[1]])
    values = torch.tensor([1.0, 2.0], dtype=torch.float64)
    numeric = central_difference_jacobian(function, values, torch.tensor([1e-4, 1e-4], dtype=torch.float64))
    assert torch.allclose(numeric, forward_jacobian(function, values), rtol=1e-6)
    information = fisher_information(numeric, torch.tensor([1.0, 0.5, 2.0, 4.0], dtype=torch.float64))
    whitening = inverse_square_root(information, floor=1e-12)
    assert torch.allclose(whitening.T @ information @ whitening, torch.eye(2, dtype=torch.float64), atol=1e-9)
