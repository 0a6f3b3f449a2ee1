"""Lattice shape transforms F_latt: parallelepiped (sincg), ellipsoid (sinc3), Gaussian, top-hat.

Inputs are fractional Miller indices h [..., 3] (h, k, l) and continuous cell
counts N [3]. nanoBragg.c evaluates sin(pi*N*h)/sin(pi*h) on the whole index;
here it is evaluated on the fractional part delta = h - round(h) (as the C
program's CUDA build does), which is identical for integer N, accurate in
float32, and periodic in h for the continuous N of refinement. Every function
has finite first and second derivatives everywhere, including exact Bragg
positions.
"""

import math

import torch

#: sqrt of the cube/sphere volume ratio used by the C program for round crystals.
ROUND_SCALE = 0.723601254558268
#: Below |N*pi*delta| of this, sincg uses its Taylor series (error < 1e-21 relative).
_SINCG_SERIES_LIMIT = 1e-3
#: Below x^2 of this, sinc3 uses its Taylor series (error < 1e-22).
_SINC3_SERIES_LIMIT = 1e-4


def fractional_part(h: torch.Tensor) -> torch.Tensor:
    """delta = h - round(h), in [-1/2, 1/2]; its derivative with respect to h is 1."""
    return h - torch.round(h).detach()


def sincg_fractional(delta: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """sin(pi*N*delta)/sin(pi*delta) with the limit N at delta = 0 (C ``sincg``, delta-reduced)."""
    x = math.pi * delta
    small = torch.abs(N * x) < _SINCG_SERIES_LIMIT
    x_safe = torch.where(small, torch.ones_like(x), x)
    ratio = torch.sin(N * x_safe) / torch.sin(x_safe)
    x2 = x * x
    n2 = N * N
    series = N * (1.0 - (n2 - 1.0) * x2 / 6.0 + (n2 - 1.0) * (3.0 * n2 - 7.0) * x2 * x2 / 360.0)
    return torch.where(small, series, ratio)


def sinc3_of_squared(x2: torch.Tensor) -> torch.Tensor:
    """sinc3(x) = 3 (sin x - x cos x) / x^3 as a function of x^2 (C ``sinc3``), 1 at x = 0."""
    small = x2 < _SINC3_SERIES_LIMIT
    x2_safe = torch.where(small, torch.ones_like(x2), x2)
    x = torch.sqrt(x2_safe)
    direct = 3.0 * (torch.sin(x) / x - torch.cos(x)) / x2_safe
    series = 1.0 - x2 / 10.0 + x2 * x2 / 280.0 - x2 * x2 * x2 / 15120.0
    return torch.where(small, series, direct)


def square_lattice_factor(h: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """Parallelepiped crystal: product over axes of sincg, [...]."""
    factors = sincg_fractional(fractional_part(h), N)
    return factors[..., 0] * factors[..., 1] * factors[..., 2]


def nearest_index(h: torch.Tensor) -> torch.Tensor:
    """The C program's nearest whole index ``ceil(h - 0.5)`` (values are whole numbers)."""
    return torch.ceil(h - 0.5).detach()


def round_lattice_factor(h: torch.Tensor, N: torch.Tensor, fudge: float) -> torch.Tensor:
    """Ellipsoidal crystal: N_a N_b N_c * 0.7236 * sinc3(pi * sqrt(sum (dh N)^2 * fudge))."""
    dh = h - nearest_index(h)
    hrad_sqr = ((dh * N) ** 2).sum(-1)
    return N.prod() * ROUND_SCALE * sinc3_of_squared(math.pi**2 * hrad_sqr * fudge)


def reciprocal_distance_sqr(h: torch.Tensor, N: torch.Tensor, reciprocal_matrix: torch.Tensor) -> torch.Tensor:
    """|dh a* + dk b* + dl c*|^2 Na^2 Nb^2 Nc^2 (1/A^2), the C ``rad_star_sqr``; rows of ``reciprocal_matrix`` are a*, b*, c*."""
    dh = h - nearest_index(h)
    offset = dh @ reciprocal_matrix
    return (offset * offset).sum(-1) * N.prod() ** 2


def gauss_lattice_factor(h, N, reciprocal_matrix, fudge: float) -> torch.Tensor:
    """Gaussian spots of the same height and FWHM as square-crystal spots: N^3 exp(-rad*/0.63*fudge)."""
    return N.prod() * torch.exp(-(reciprocal_distance_sqr(h, N, reciprocal_matrix) / 0.63 * fudge))


def tophat_lattice_factor(h, N, reciprocal_matrix, fudge: float) -> torch.Tensor:
    """Flat-top spots: N^3 inside rad* * fudge < 0.3969, 0 outside (no gradient with respect to h)."""
    inside = reciprocal_distance_sqr(h, N, reciprocal_matrix) * fudge < 0.3969
    return N.prod() * inside.to(h.dtype)
