"""Lattice shape transforms F_latt and their derivatives.

Shapes: parallelepiped (sincg), ellipsoid (sinc3), Gaussian and top-hat spots.
Inputs are fractional Miller indices h [3, ...] (axis first: h, k, l, so that
the long evaluation dimension is innermost and vectorizes) and continuous cell
counts N [3].
nanoBragg.c evaluates sin(pi N h)/sin(pi h) on the whole index; here it is
evaluated on the fractional part delta = h - h0 (h0 the nearest whole index),
as the C program's CUDA build does: identical for whole N up to the sign (the
intensity uses the square), accurate in float32, and periodic in h for the
continuous N of refinement. Removable singularities use Taylor series, so
values, first and second derivatives are finite everywhere, exact Bragg
positions included. Derivatives are closed forms used by the analytic backward
of :mod:`torch_sim.functional.lattice_sum`.
"""

import math

import torch

from torch_sim.config.enums import CrystalShape

#: sqrt of the cube/sphere volume ratio used by the C program for round crystals.
ROUND_SCALE = 0.723601254558268
#: Below |N x| of this, sincg uses its Taylor series (relative error < 1e-19).
_SINCG_SERIES_LIMIT = 1e-3
#: Below x^2 of this, sinc3 uses its Taylor series (error < 1e-22).
_SINC3_SERIES_LIMIT = 1e-4


def nearest_index(h: torch.Tensor) -> torch.Tensor:
    """The C program's nearest whole index ``ceil(h - 0.5)`` (no gradient: piecewise constant)."""
    return torch.ceil(h - 0.5).detach()


def _sincg_series(x: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """Taylor series of sin(N x)/sin(x) about x = 0, to x^4."""
    x2, n2 = x * x, N * N
    return N * (1.0 - (n2 - 1.0) * x2 / 6.0 + (n2 - 1.0) * (3.0 * n2 - 7.0) * x2 * x2 / 360.0)


def sincg(x: torch.Tensor, N: torch.Tensor, with_derivatives: bool = False):
    """(sin(N x)/sin(x), d/dx, d/dN) for x = pi*delta, |x| <= pi/2; the value is N at x = 0 (C ``sincg``).

    Derivatives are None unless ``with_derivatives``.
    """
    nx = N * x
    small = torch.abs(nx) < _SINCG_SERIES_LIMIT
    if not (with_derivatives or torch.is_grad_enabled() or torch.compiler.is_compiling()):
        # values only, eagerly: the ratio everywhere, the series only where it is needed
        value = torch.sin(nx) / torch.sin(x)
        if bool(small.any()):
            value[small] = _sincg_series(x[small], N.expand_as(x)[small])
        return value, None, None
    x_safe = torch.where(small, torch.ones_like(x), x)
    sin_nx, sin_x = torch.sin(N * x_safe), torch.sin(x_safe)
    x2, n2 = x * x, N * N
    value = torch.where(small, _sincg_series(x, N), sin_nx / sin_x)
    if not with_derivatives:
        return value, None, None
    # |x| <= pi/2 (x = pi delta, |delta| <= 1/2), where cos x = sqrt(1 - sin^2 x) and costs no transcendental
    cos_nx, cos_x = torch.cos(N * x_safe), torch.sqrt(torch.clamp(1.0 - sin_x * sin_x, min=0.0))
    d_x = torch.where(
        small,
        N * (-(n2 - 1.0) * x / 3.0 + (n2 - 1.0) * (3.0 * n2 - 7.0) * x2 * x / 90.0),
        (N * cos_nx * sin_x - sin_nx * cos_x) / (sin_x * sin_x),
    )
    d_N = torch.where(
        small,
        1.0 - (3.0 * n2 - 1.0) * x2 / 6.0 + (15.0 * n2 * n2 - 30.0 * n2 + 7.0) * x2 * x2 / 360.0,
        x_safe * cos_nx / sin_x,
    )
    return value, d_x, d_N


def sinc3(u: torch.Tensor, with_derivative: bool = False):
    """(sinc3(x), d sinc3/du) as functions of u = x^2, where sinc3(x) = 3 (sin x - x cos x)/x^3 (C ``sinc3``).

    The value is the C program's own expression 3 (sin x/x - cos x)/x^2 (1 at
    x = 0), including its cancellation to 0 for x below ~1e-8 (a pixel that hits
    the direct beam almost exactly); the derivatives come from the Taylor series
    there, so gradients stay those of the smooth function.
    """
    small = u < _SINC3_SERIES_LIMIT
    zero = u == 0.0
    u_safe = torch.where(zero, torch.ones_like(u), u)
    x = torch.sqrt(u_safe)
    sin_x, cos_x = torch.sin(x), torch.cos(x)
    g = sin_x - x * cos_x
    direct = torch.where(zero, torch.ones_like(u), 3.0 * (sin_x / x - cos_x) / u_safe)
    series = 1.0 - u / 10.0 + u * u / 280.0 - u * u * u / 15120.0
    value = torch.where(small, series + (direct - series).detach(), direct)
    if not with_derivative:
        return value, None
    d_u = torch.where(small, -1.0 / 10.0 + u / 140.0 - u * u / 5040.0,
                      3.0 * (u_safe * sin_x - 3.0 * g) / (u_safe * u_safe) / (2.0 * x))
    return value, d_u


def _axis_first(N: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """N [3] shaped to broadcast against axis-first tensors [3, ...]."""
    return N.reshape((3,) + (1,) * (like.dim() - 1))


def contract(vectors: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """sum_i vectors[i] matrix[i, j] for axis-first vectors [3, ...] -> [3, ...] (row vector times matrix)."""
    return torch.stack([vectors[0] * matrix[0, j] + vectors[1] * matrix[1, j] + vectors[2] * matrix[2, j]
                        for j in range(3)])


def lattice_factor(h: torch.Tensor, N: torch.Tensor, reciprocal: torch.Tensor, shape: CrystalShape, fudge: float,
                   with_derivatives: bool = False):
    """F_latt [...] for fractional indices h [3, ...], and if asked dF/dh [3, ...], dF/dN [3, ...], dF/dreciprocal.

    ``reciprocal`` [3, 3] (rows a*, b*, c* in 1/A) sets the spot size of Gaussian
    and top-hat spots (C ``rad_star_sqr``); dF/dreciprocal [3, 3, ...] is
    returned for Gaussian spots only (None otherwise, and for derivatives not asked).
    """
    delta = h - nearest_index(h)
    Nb = _axis_first(N, h)
    if shape == CrystalShape.SQUARE:
        s, ds_dx, ds_dN = sincg(math.pi * delta, Nb, with_derivatives)
        value = s[0] * s[1] * s[2]
        if not with_derivatives:
            return value, None, None, None
        others = torch.stack((s[1] * s[2], s[0] * s[2], s[0] * s[1]))
        return value, math.pi * ds_dx * others, ds_dN * others, None
    N_product = N[0] * N[1] * N[2]
    N_others = _axis_first(torch.stack((N[1] * N[2], N[0] * N[2], N[0] * N[1])), h)
    if shape == CrystalShape.ROUND:
        scaled = delta * Nb
        u = math.pi**2 * fudge * (scaled[0] * scaled[0] + scaled[1] * scaled[1] + scaled[2] * scaled[2])
        f, f_u = sinc3(u, with_derivatives)
        value = N_product * ROUND_SCALE * f
        if not with_derivatives:
            return value, None, None, None
        common = N_product * ROUND_SCALE * f_u * 2.0 * math.pi**2 * fudge
        return value, common * delta * Nb * Nb, ROUND_SCALE * f * N_others + common * delta * delta * Nb, None
    offset = contract(delta, reciprocal)  # reciprocal-space distance to the nearest node (1/A)
    distance2 = offset[0] * offset[0] + offset[1] * offset[1] + offset[2] * offset[2]
    N2 = N_product * N_product
    rad = distance2 * N2  # the C's dimensionful rad_star_sqr
    if shape == CrystalShape.TOPHAT:
        inside = (rad * fudge < 0.3969).to(h.dtype)
        value = N_product * inside
        if not with_derivatives:
            return value, None, None, None
        return value, torch.zeros_like(h), inside * N_others, None
    value = N_product * torch.exp(-(rad / 0.63 * fudge))
    if not with_derivatives:
        return value, None, None, None
    factor = -value * fudge / 0.63 * N2
    d_h = 2.0 * factor * contract(offset, reciprocal.T)
    d_N = (value / N_product - value * fudge / 0.63 * distance2 * 2.0 * N_product) * N_others
    d_reciprocal = 2.0 * factor * delta[:, None] * offset[None, :]
    return value, d_h, d_N, d_reciprocal
