"""Standard errors and correlations of refined parameters from the curvature of the loss at the optimum.

The covariance of the estimates is the inverse of the information matrix ``I``
(command-line units), the curvature of the negative log-likelihood (plus
restraints) at the optimum. Two ways to compute it with autograd:

- ``"fisher"`` (default): the expected (Fisher) information ``J^T W J``, with
  ``J = d mu / d p`` [pixels, k] from k forward-mode passes (dual tensors,
  no second derivatives of the model) and ``W = weights / mu`` (Poisson) or
  ``weights / s^2`` (least squares, ``s^2 = sum w r^2 / (n - k)`` the reduced
  chi-square, i.e. the noise variance estimated from the residuals). Always
  positive semi-definite; singular only when a parameter (combination) does
  not change the image.
- ``"hessian"``: the observed information, the exact Hessian of the loss from
  double backward (k backward passes through the gradient); it also contains
  the model's curvature times the residuals, may be indefinite away from a
  minimum, and costs more.

A Gaussian restraint adds ``1/width^2`` to its diagonal entry. The standard
errors assume the model is correct, the optimum is interior (not on a bound)
and the loss is close to quadratic within a few standard errors; with a
well-fitting model they describe the scatter of the estimates over repeated
noisy observations.
"""

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch.autograd import forward_ad

#: Methods of :func:`information_matrix`.
METHODS = ("fisher", "hessian")


@dataclass
class Uncertainty:
    """Covariance [k, k], standard errors [k], correlation [k, k] (numpy; command-line units) of ``names``."""

    names: list
    covariance: np.ndarray
    standard_errors: np.ndarray
    correlation: np.ndarray
    method: str
    positive_definite: bool
    warnings: list = field(default_factory=list)


def forward_jacobian(function: Callable[[torch.Tensor], torch.Tensor], values: torch.Tensor) -> torch.Tensor:
    """``d function(values) / d values`` [outputs, k] by k forward-mode passes; ``function`` maps [k] to [outputs].

    Dual tensors (``torch.autograd.forward_ad``); a compiled simulator's kernels run
    eagerly under forward mode (``torch_sim.functional.compilation``).
    """
    columns = []
    for i in range(values.numel()):
        tangent = torch.zeros_like(values)
        tangent[i] = 1.0
        with forward_ad.dual_level():
            output = function(forward_ad.make_dual(values.detach(), tangent))
            columns.append(forward_ad.unpack_dual(output).tangent.detach())
    return torch.stack(columns, dim=-1)


def fisher_information(jacobian: torch.Tensor, pixel_weights: torch.Tensor) -> torch.Tensor:
    """``J^T diag(W) J`` [k, k] for ``J`` [P, k] and ``W`` [P]."""
    return jacobian.T @ (pixel_weights[:, None] * jacobian)


def loss_hessian(loss: Callable[[torch.Tensor], torch.Tensor], values: torch.Tensor) -> torch.Tensor:
    """Exact Hessian [k, k] of the scalar ``loss(values)`` by double backward."""
    point = values.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(loss(point), point, create_graph=True)
        rows = [torch.autograd.grad(gradient[i], point, retain_graph=i + 1 < point.numel())[0]
                for i in range(point.numel())]
    return torch.stack(rows).detach()


def covariance_from_information(information: torch.Tensor, names: Sequence[str], method: str) -> Uncertainty:
    """Invert the information matrix; warn (and give NaN errors) where it is not positive definite."""
    matrix = information.detach().cpu().to(torch.float64).numpy()
    matrix = 0.5 * (matrix + matrix.T)
    diagonal = np.diag(matrix).copy()
    warnings = []
    undetermined = [name for name, d in zip(names, diagonal) if not d > 0.0]
    if undetermined:
        warnings.append(f"the data do not determine {', '.join(undetermined)} (zero curvature): no standard error")
    scale = np.where(diagonal > 0.0, 1.0 / np.sqrt(np.where(diagonal > 0.0, diagonal, 1.0)), 0.0)
    normalised = matrix * scale[:, None] * scale[None, :]
    eigenvalues = np.linalg.eigvalsh(normalised)
    positive_definite = not undetermined and eigenvalues[0] > 1e-12 * max(eigenvalues[-1], 1.0)
    if not positive_definite:
        warnings.append(f"the {'Fisher information' if method == 'fisher' else 'Hessian'} is not positive definite "
                        f"(smallest normalised eigenvalue {eigenvalues[0]:.3g}): not at a minimum, or parameters "
                        "are degenerate; standard errors are unreliable")
    covariance = scale[:, None] * np.linalg.pinv(normalised, hermitian=True) * scale[None, :]
    variances = np.diag(covariance)
    errors = np.sqrt(np.where(variances > 0.0, variances, math.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = covariance / errors[:, None] / errors[None, :]
    return Uncertainty(list(names), covariance, errors, correlation, method, positive_definite, warnings)
