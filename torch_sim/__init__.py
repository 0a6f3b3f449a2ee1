"""torch_sim: a differentiable, vectorized PyTorch port of nanoBragg.c."""

from torch_sim.errors import InputError

__all__ = ["InputError"]
