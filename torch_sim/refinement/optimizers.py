"""Minimizers of a scalar objective of the internal variables: L-BFGS (strong Wolfe) and Adam.

``minimize(objective, u0, ...)`` runs until a convergence criterion holds:
the relative loss change of an iteration ``|L_k - L_(k-1)| / max(|L_k|, 1)`` falls
below ``relative_loss_change``, or the gradient norm (internal units: per
typical step, or with Fisher preconditioning per standard deviation, where it
estimates the distance to the optimum in standard deviations) below
``gradient_norm``; or it stops unconverged after
``max_iterations`` or when the line search makes no progress. Every
evaluation returns the loss and its gradient; L-BFGS re-evaluates points it
has seen, which a small cache answers without rendering again.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

import torch

#: Names of the optimizers.
OPTIMIZERS = ("lbfgs", "adam")
#: Most loss evaluations of one L-BFGS line search.
_LINE_SEARCH_EVALUATIONS = 25


@dataclass
class Convergence:
    """Stopping rules; an iteration is one L-BFGS step (line search included) or one Adam update."""

    max_iterations: int = 100
    relative_loss_change: float = 1e-10
    gradient_norm: float = 1e-3
    #: Adam: the loss change must stay below the threshold this many iterations in a row.
    patience: int = 5


@dataclass
class OptimizationResult:
    """Final internal variables, loss, iteration and evaluation counts, and why it stopped."""

    u: torch.Tensor
    loss: float
    iterations: int
    evaluations: int
    converged: bool
    reason: str


Callback = Callable[[int, float, float, torch.Tensor], None]


class CachedObjective:
    """``(loss, gradient)`` of ``objective(u)``, remembering the last few points evaluated."""

    def __init__(self, objective: Callable[[torch.Tensor], torch.Tensor], size: int = 8):
        self.objective, self.size = objective, size
        self.cache: OrderedDict = OrderedDict()
        self.evaluations = 0

    def __call__(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = u.detach().cpu().numpy().tobytes()
        if key not in self.cache:
            point = u.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                loss = self.objective(point)
                (gradient,) = torch.autograd.grad(loss, point)
            self.evaluations += 1
            self.cache[key] = (loss.detach(), gradient.detach())
            while len(self.cache) > self.size:
                self.cache.popitem(last=False)
        return self.cache[key]


def _relative_change(previous: float, current: float) -> float:
    return abs(previous - current) / max(abs(current), 1.0)


def _after_step(evaluate: CachedObjective, u: torch.Tensor, iteration: int, convergence: Convergence,
                callback: Optional[Callback]) -> tuple:
    """The loss after an optimizer step, reported to ``callback``, and the converged result if the gradient
    norm is below the criterion (else None)."""
    loss, gradient = evaluate(u)
    current, gradient_norm = float(loss), float(gradient.norm())
    if callback is not None:
        callback(iteration, current, gradient_norm, u.detach())
    if gradient_norm <= convergence.gradient_norm:
        return current, OptimizationResult(u.detach(), current, iteration, evaluate.evaluations, True, "gradient norm")
    return current, None


def _lbfgs(evaluate: CachedObjective, u0: torch.Tensor, convergence: Convergence, callback: Optional[Callback],
           history_size: int) -> OptimizationResult:
    u = u0.detach().clone().requires_grad_(True)
    # one iteration per step() so that every iteration is reported; max_eval bounds the line search
    optimizer = torch.optim.LBFGS([u], lr=1.0, max_iter=1, max_eval=1 + _LINE_SEARCH_EVALUATIONS,
                                  history_size=history_size, tolerance_grad=0.0, tolerance_change=0.0,
                                  line_search_fn="strong_wolfe")

    def closure():
        loss, gradient = evaluate(u)
        u.grad = gradient.clone()
        return loss

    loss, gradient = evaluate(u)
    previous = float(loss)
    if float(gradient.norm()) <= convergence.gradient_norm:
        return OptimizationResult(u.detach(), previous, 0, evaluate.evaluations, True, "gradient norm")
    for iteration in range(1, convergence.max_iterations + 1):
        before = u.detach().clone()
        optimizer.step(closure)
        current, converged = _after_step(evaluate, u, iteration, convergence, callback)
        if converged is not None:
            return converged
        if torch.equal(before, u.detach()):
            return OptimizationResult(u.detach(), current, iteration, evaluate.evaluations, False,
                                      "line search made no progress")
        if _relative_change(previous, current) <= convergence.relative_loss_change:
            return OptimizationResult(u.detach(), current, iteration, evaluate.evaluations, True,
                                      "relative loss change")
        previous = current
    return OptimizationResult(u.detach(), previous, convergence.max_iterations, evaluate.evaluations, False,
                              "maximum iterations")


def _adam(evaluate: CachedObjective, u0: torch.Tensor, convergence: Convergence, callback: Optional[Callback],
          learning_rate: float) -> OptimizationResult:
    u = u0.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([u], lr=learning_rate)
    loss, _ = evaluate(u)
    previous, quiet = float(loss), 0
    for iteration in range(1, convergence.max_iterations + 1):
        _, gradient = evaluate(u)
        u.grad = gradient.clone()
        optimizer.step()
        current, converged = _after_step(evaluate, u, iteration, convergence, callback)
        if converged is not None:
            return converged
        quiet = quiet + 1 if _relative_change(previous, current) <= convergence.relative_loss_change else 0
        if quiet >= convergence.patience:
            return OptimizationResult(u.detach(), current, iteration, evaluate.evaluations, True,
                                      "relative loss change")
        previous = current
    return OptimizationResult(u.detach(), previous, convergence.max_iterations, evaluate.evaluations, False,
                              "maximum iterations")


def minimize(objective: Callable[[torch.Tensor], torch.Tensor], u0: torch.Tensor, method: str = "lbfgs",
             convergence: Optional[Convergence] = None, callback: Optional[Callback] = None,
             learning_rate: float = 0.1, history_size: int = 20) -> OptimizationResult:
    """Minimize ``objective(u)`` (a scalar tensor, differentiable in ``u`` [k]) from ``u0``.

    ``method``: ``"lbfgs"`` (torch.optim.LBFGS, strong-Wolfe line search,
    ``history_size`` correction pairs) or ``"adam"`` (step ``learning_rate`` in
    internal units). ``callback(iteration, loss, gradient_norm, u)`` runs after
    every iteration.
    """
    if method not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {method!r}")
    convergence = convergence or Convergence()
    evaluate = CachedObjective(objective)
    if method == "lbfgs":
        return _lbfgs(evaluate, u0, convergence, callback, history_size)
    return _adam(evaluate, u0, convergence, callback, learning_rate)
