"""torch_sim: a differentiable, vectorized PyTorch port of nanoBragg.c."""

from torch_sim.api import from_nanobragg_args
from torch_sim.errors import InputError
from torch_sim.modules.simulator import Simulator

__all__ = ["InputError", "Simulator", "from_nanobragg_args"]
