"""Parameter refinement: fit a model's parameters to an observed diffraction image.

``refine(model, observed, params=[...])`` minimizes a Poisson negative
log-likelihood (or least squares) of the observed photons over the named
parameters, stage by stage, and returns the refined values with standard
errors and correlations (:class:`RefinementResult`); see docs/Refinement.md.
"""

from torch_sim.refinement.export_args import export_nanobragg_args, nanobragg_args_from_model
from torch_sim.refinement.losses import LeastSquaresLoss, PoissonLoss, least_squares, photon_counts, poisson_nll
from torch_sim.refinement.optimizers import Convergence, minimize
from torch_sim.refinement.parameterization import Parameterization, ParameterTransform, default_scale
from torch_sim.refinement.refine import refine
from torch_sim.refinement.restraints import GaussianRestraints, gaussian_restraints
from torch_sim.refinement.result import RefinementResult, StageReport
from torch_sim.refinement.stages import DEFAULT_STAGES, Stage, load_stages, resolve_stages
from torch_sim.refinement.uncertainty import Uncertainty

__all__ = [
    "DEFAULT_STAGES",
    "Convergence",
    "GaussianRestraints",
    "LeastSquaresLoss",
    "ParameterTransform",
    "Parameterization",
    "PoissonLoss",
    "RefinementResult",
    "Stage",
    "StageReport",
    "Uncertainty",
    "default_scale",
    "export_nanobragg_args",
    "gaussian_restraints",
    "least_squares",
    "load_stages",
    "minimize",
    "nanobragg_args_from_model",
    "photon_counts",
    "poisson_nll",
    "refine",
    "resolve_stages",
]
