"""Lattice shape transforms F_latt and their derivatives.

Shapes: parallelepiped (sincg), ellipsoid (sinc3), Gaussian and top-hat spots.
Inputs are fractional Miller indices h [3, ...] (axis first: h, k, l, so that
the long evaluation dimension is innermost and vectorizes) and continuous cell
counts N [3]; each axis is then handled as its own tensor.
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
from torch_sim.functional.sin_cos_pi import sin_cos_pi, sin_cos_pi_half_period

#: sqrt of the cube/sphere volume ratio used by the C program for round crystals.
ROUND_SCALE = 0.723601254558268
#: Below |N x| of this, sincg and its derivative in x use their Taylor series (relative error < 1e-19).
_SINCG_SERIES_LIMIT = 1e-3
#: In the backward pass's ratios, fractional indices closer to 0 than this are taken as this (0/0 at 0 itself);
#: sincg and d/dN change by a relative (pi N delta)^2, far below rounding.
_ZERO_STAND_IN = 1e-12
#: Below x^2 of this, sinc3 uses its Taylor series (error < 1e-22).
_SINC3_SERIES_LIMIT = 1e-4


def nearest_index(h: torch.Tensor) -> torch.Tensor:
    """The C program's nearest whole index ``ceil(h - 0.5)`` (no gradient: piecewise constant)."""
    return torch.ceil(h - 0.5).detach()


def _sincg_series(x: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """Taylor series of sin(N x)/sin(x) about x = 0, to x^4 (coefficients formed from N alone, with no division)."""
    x2, n2 = x * x, N * N
    return N * (1.0 - (n2 - 1.0) * (1.0 / 6.0) * x2 + (n2 - 1.0) * (3.0 * n2 - 7.0) * (1.0 / 360.0) * (x2 * x2))


def sincg(x: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """sin(N x)/sin(x) for x = pi*delta, |x| <= pi/2; N at x = 0 (C ``sincg``)."""
    nx = N * x
    small = torch.abs(nx) < _SINCG_SERIES_LIMIT
    if not (torch.is_grad_enabled() or torch.compiler.is_compiling()):
        # eagerly without gradients: the ratio everywhere, the series only where it is needed
        value = torch.sin(nx) / torch.sin(x)
        if bool(small.any()):
            value[small] = _sincg_series(x[small], N.expand_as(x)[small])
        return value
    x_safe = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, _sincg_series(x, N), torch.sin(N * x_safe) / torch.sin(x_safe))


def _sincg_sines(delta: torch.Tensor, N: torch.Tensor) -> tuple:
    """(sin, cos) of pi N delta and of pi delta (|delta| <= 1/2): compiled, from polynomials
    (:mod:`torch_sim.functional.sin_cos_pi`, fused into one loop); eagerly, where each operation is a pass
    over memory, from the library."""
    if torch.compiler.is_compiling():
        return (*sin_cos_pi(N * delta), *sin_cos_pi_half_period(delta))
    x = math.pi * delta
    return torch.sin(N * x), torch.cos(N * x), torch.sin(x), torch.cos(x)


def sincg_with_derivatives(delta: torch.Tensor, N: torch.Tensor) -> tuple:
    """(sincg(pi delta, N), d/dx, d/dN) for |delta| <= 1/2, x = pi delta: the backward pass's closed forms.

    Compiled, the sines and cosines of pi delta and pi N delta come from polynomials
    on the fractional part (:func:`_sincg_sines`), which agree with the library's to a
    few units in the last place, well below what a gradient needs. Values of the
    image itself always come from :func:`sincg`.

    Near a whole index the ratio and d/dN lose no accuracy (numerator and denominator
    shrink together), so only delta = 0 needs a stand-in (``_ZERO_STAND_IN``); d/dx, a
    difference of nearly equal terms there, takes its Taylor series below |N x| = 1e-3.
    """
    x = math.pi * delta
    small = torch.abs(N * x) < _SINCG_SERIES_LIMIT
    delta_safe = torch.where(torch.abs(delta) < _ZERO_STAND_IN, torch.full_like(delta, _ZERO_STAND_IN), delta)
    sin_nx, cos_nx, sin_x, cos_x = _sincg_sines(delta_safe, N)
    inverse_sin_x = 1.0 / sin_x  # one division serves the ratio and both derivatives
    ratio = sin_nx * inverse_sin_x
    x2, n2 = x * x, N * N
    d_x = torch.where(
        small,
        N * (x * ((1.0 - n2) * (1.0 / 3.0)) + (n2 - 1.0) * (3.0 * n2 - 7.0) * (1.0 / 90.0) * (x2 * x)),
        (N * cos_nx - ratio * cos_x) * inverse_sin_x,
    )
    return ratio, d_x, math.pi * delta_safe * cos_nx * inverse_sin_x


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


def lattice_factor(h, N: torch.Tensor, reciprocal: torch.Tensor, shape: CrystalShape, fudge: float,
                   with_derivatives: bool = False):
    """F_latt [...] for fractional indices h [3, ...] (axis first: a tensor or three tensors), and if asked
    its derivatives.

    Derivatives come as lists over the three Miller axes (each tensor [...]):
    dF/dh and dF/dN, and for Gaussian spots dF/dreciprocal as a 3 x 3 nested
    list (None for the other shapes, and when not asked). Every intermediate
    shares the shape of one axis, so a compiler evaluates each sine once.
    ``reciprocal`` [3, 3] (rows a*, b*, c* in 1/A) sets the spot size of Gaussian
    and top-hat spots (C ``rad_star_sqr``).
    """
    delta = [h[k] - nearest_index(h[k]) for k in range(3)]
    if shape == CrystalShape.SQUARE:
        if not with_derivatives:
            s = [sincg(math.pi * delta[k], N[k]) for k in range(3)]
            return s[0] * s[1] * s[2], None, None, None
        parts = [sincg_with_derivatives(delta[k], N[k]) for k in range(3)]
        s = [part[0] for part in parts]
        value = s[0] * s[1] * s[2]
        others = [s[1] * s[2], s[0] * s[2], s[0] * s[1]]
        return (value, [math.pi * parts[k][1] * others[k] for k in range(3)],
                [parts[k][2] * others[k] for k in range(3)], None)
    N_product = N[0] * N[1] * N[2]
    N_others = [N[1] * N[2], N[0] * N[2], N[0] * N[1]]
    if shape == CrystalShape.ROUND:
        u = math.pi**2 * fudge * sum((delta[k] * N[k]) * (delta[k] * N[k]) for k in range(3))
        f, f_u = sinc3(u, with_derivatives)
        value = N_product * ROUND_SCALE * f
        if not with_derivatives:
            return value, None, None, None
        common = N_product * ROUND_SCALE * f_u * 2.0 * math.pi**2 * fudge
        return (value, [common * delta[k] * N[k] * N[k] for k in range(3)],
                [ROUND_SCALE * f * N_others[k] + common * delta[k] * delta[k] * N[k] for k in range(3)], None)
    # reciprocal-space distance to the nearest node (1/A): the row vector delta times the matrix
    offset = [delta[0] * reciprocal[0, j] + delta[1] * reciprocal[1, j] + delta[2] * reciprocal[2, j] for j in range(3)]
    distance2 = offset[0] * offset[0] + offset[1] * offset[1] + offset[2] * offset[2]
    N2 = N_product * N_product
    rad = distance2 * N2  # the C's dimensionful rad_star_sqr
    if shape == CrystalShape.TOPHAT:
        inside = (rad * fudge < 0.3969).to(rad.dtype)
        value = N_product * inside
        if not with_derivatives:
            return value, None, None, None
        return value, [torch.zeros_like(rad)] * 3, [inside * N_others[k] for k in range(3)], None
    value = N_product * torch.exp(-(rad / 0.63 * fudge))
    if not with_derivatives:
        return value, None, None, None
    factor = -value * fudge / 0.63 * N2
    d_h = [2.0 * factor * (offset[0] * reciprocal[k, 0] + offset[1] * reciprocal[k, 1] + offset[2] * reciprocal[k, 2])
           for k in range(3)]
    d_N = [(value / N_product - value * fudge / 0.63 * distance2 * 2.0 * N_product) * N_others[k] for k in range(3)]
    d_reciprocal = [[2.0 * factor * delta[i] * offset[j] for j in range(3)] for i in range(3)]
    return value, d_h, d_N, d_reciprocal
