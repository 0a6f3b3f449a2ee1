"""Fisher preconditioning: whiten the internal variables of a stage before it is optimized.

With the typical-step scaling alone, the loss's curvature still differs by
orders of magnitude between parameters and strongly couples some of them
(cell lengths with the distance, misset with the beam centre), and L-BFGS needs
hundreds of iterations. At the start of a stage the Fisher information ``F``
of its internal variables (``J^T W J`` plus the restraints) is computed once,
and the optimizer works on ``w`` with ``u = C w``, ``C = F^(-1/2)``: in ``w``
the curvature is close to the identity, a unit step is close to the Newton
step, and the gradient norm measures the distance to the optimum in standard
deviations. Eigenvalues are floored at ``1 / MAX_STEP^2``, so that a unit step
in ``w`` moves at most ``MAX_STEP`` typical steps: far from the optimum some
directions are nearly flat (e.g. all cell lengths and the distance together,
before the spots are aligned), and whitening them fully would send the first
steps far away.

A preconditioner only needs to be approximately right, so ``J`` comes from
central differences of the rendered pixels (2k renders, with steps of a tenth
of each parameter's typical step) rather than k forward-mode passes, which
cost several renders each; the standard errors (uncertainty.py) use
forward-mode autograd.
"""

import torch

from torch_sim.refinement.uncertainty import fisher_information

#: Largest move of a unit step in the whitened variables, in typical steps.
MAX_STEP = 10.0
#: Difference step in typical steps (internal units).
DIFFERENCE_STEP = 0.1


def inverse_square_root(information: torch.Tensor, floor: float = 1.0 / MAX_STEP**2) -> torch.Tensor:
    """``C = Q diag(max(lambda, floor)^-1/2) Q^T``: ``C^T F C = I`` where the eigenvalues exceed ``floor``."""
    symmetric = 0.5 * (information + information.T)
    eigenvalues, vectors = torch.linalg.eigh(symmetric)
    return vectors @ torch.diag(torch.clamp(eigenvalues, min=floor).rsqrt()) @ vectors.T


def central_difference_jacobian(function, values: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """``d function / d values`` [outputs, k] from ``(f(v + h e_i) - f(v - h e_i)) / 2h`` (no autograd)."""
    columns = []
    with torch.no_grad():
        for i in range(values.numel()):
            step = torch.zeros_like(values)
            step[i] = steps[i]
            columns.append((function(values + step) - function(values - step)) / (2.0 * steps[i]))
    return torch.stack(columns, dim=-1)


def stage_preconditioner(mean_counts, information_weights: torch.Tensor, stage_values: torch.Tensor,
                         slopes: torch.Tensor, restraint_curvature: torch.Tensor) -> torch.Tensor:
    """``C`` [k, k] for a stage: ``mean_counts(stage_values)`` gives mu [P]; ``slopes`` [k] are dv/du at u = 0;
    ``restraint_curvature`` [k] the restraints' second derivatives (command-line units)."""
    jacobian = central_difference_jacobian(mean_counts, stage_values, DIFFERENCE_STEP * slopes) * slopes
    information = fisher_information(jacobian, information_weights)
    information = information + torch.diag(restraint_curvature * slopes * slopes)
    return inverse_square_root(information)
