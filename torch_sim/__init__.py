"""torch_sim: a differentiable, vectorized PyTorch port of nanoBragg.c."""

from torch_sim.api import from_nanobragg_args
from torch_sim.errors import InputError
from torch_sim.modules.simulator import Simulator
from torch_sim.refinement import RefinementResult, nanobragg_args_from_model, refine

__all__ = ["InputError", "RefinementResult", "Simulator", "from_nanobragg_args", "nanobragg_args_from_model", "refine"]
