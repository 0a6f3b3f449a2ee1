"""Synthetic refinement problems: structure factors, noisy observations and perturbed starting models."""

import math
from typing import Mapping, Sequence

import numpy as np
import torch

from torch_sim.io.atomic import atomic_write


def write_wilson_hkl(path, cell_A_deg: Sequence[float], resolution_A: float = 2.5, seed: int = 0,
                     mean_F: float = 300.0, b_factor_A2: float = 20.0) -> int:
    """A P1 ``h k l F`` file to ``resolution_A`` with Wilson-like random amplitudes; returns the reflection count.

    F is Rayleigh-distributed (scale ``mean_F``) times ``exp(-B stol^2)``; the
    reciprocal metric of the triclinic cell gives each reflection's resolution.
    """
    a, b, c, alpha, beta, gamma = cell_A_deg
    cos = [math.cos(math.radians(x)) for x in (alpha, beta, gamma)]
    metric = np.array([[a * a, a * b * cos[2], a * c * cos[1]],
                       [a * b * cos[2], b * b, b * c * cos[0]],
                       [a * c * cos[1], b * c * cos[0], c * c]])
    reciprocal_metric = np.linalg.inv(metric)
    limits = [int(math.ceil(length / resolution_A)) + 1 for length in (a, b, c)]
    grids = np.meshgrid(*(np.arange(-n, n + 1) for n in limits), indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    d_star_sqr = np.einsum("ni,ij,nj->n", hkl, reciprocal_metric, hkl)
    keep = d_star_sqr <= 1.0 / resolution_A**2
    rng = np.random.default_rng(seed)
    amplitude = rng.rayleigh(mean_F, size=hkl.shape[0]) * np.exp(-b_factor_A2 * d_star_sqr / 4.0)
    with atomic_write(path, "w") as handle:
        for (h, k, l), f in zip(hkl[keep], amplitude[keep]):
            handle.write(f"{h:4d} {k:4d} {l:4d} {f:10.3f}\n")
    return int(keep.sum())


def poisson_observation(expected: torch.Tensor, seed: int, background: float = 0.0,
                        adc_offset: float = 0.0) -> torch.Tensor:
    """Poisson photon counts of ``expected + background`` plus ``adc_offset`` (float64, same shape)."""
    generator = torch.Generator(device=expected.device).manual_seed(seed)
    rates = (expected.detach().to(torch.float64) + background).clamp(min=0.0)
    return torch.poisson(rates, generator=generator) + adc_offset


def perturbed(values: Mapping[str, float], changes: Mapping[str, tuple], seed: int) -> dict:
    """Values moved by ``changes``: ``name: ("add", d)`` adds +-d, ``("scale", f)`` multiplies by f or 1/f,
    ``("relative", r)`` multiplies by 1 +- r; each sign drawn at random (``seed``)."""
    rng = np.random.default_rng(seed)
    moved = dict(values)
    for name, (kind, amount) in changes.items():
        if name not in values:
            continue
        sign = float(rng.choice([-1.0, 1.0]))
        if kind == "add":
            moved[name] = values[name] + sign * amount
        elif kind == "relative":
            moved[name] = values[name] * (1.0 + sign * amount)
        elif kind == "scale":
            moved[name] = values[name] * amount**sign
        else:
            raise ValueError(f"unknown change kind {kind!r}")
    return moved
