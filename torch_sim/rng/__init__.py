"""The C program's random numbers, bit for bit: ``ran1`` and its deviates, mosaic domains, random misset, noise."""

from torch_sim.rng.c_random import CRandom, Seed, f32
from torch_sim.rng.deviates import gammln, gaussdev, poidev
from torch_sim.rng.mosaic import (
    MosaicDraws,
    mosaic_domain_draws,
    mosaic_rotation_matrices,
    random_misset_rad,
    umat_to_misset_rad,
)
from torch_sim.rng.noise import NoiseImage, poisson_noise_image, poisson_noise_image_torch

__all__ = [
    "CRandom",
    "MosaicDraws",
    "NoiseImage",
    "Seed",
    "f32",
    "gammln",
    "gaussdev",
    "mosaic_domain_draws",
    "mosaic_rotation_matrices",
    "poidev",
    "poisson_noise_image",
    "poisson_noise_image_torch",
    "random_misset_rad",
    "umat_to_misset_rad",
]
