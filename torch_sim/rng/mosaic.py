"""Random mosaic-domain rotations and random misset of nanoBragg.c (``mosaic_rotation_umat``, ``umat2misset``).

The random part (axis and cap factor of each domain) is drawn once with the C
generator; the rotation matrices are then a differentiable torch function of the
mosaic spread. Matrices are [n, 3, 3] with ``umat[0..8]`` of the C row-major, so
``new = U @ v`` as in the C ``rotate_umat``.
"""

import ctypes
import ctypes.util
import math
from dataclasses import dataclass

import numpy as np
import torch

from torch_sim.errors import InputError
from torch_sim.rng.c_random import CRandom, Seed, f32

_ONE_THIRD_F32 = f32(1.0 / 3.0)


def _libm_powf():
    """The C library's ``powf`` (not correctly rounded: it differs from a rounded double
    ``pow`` in about 0.1% of arguments, and numpy's float32 power differs more often)."""
    try:
        powf = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6").powf
    except (OSError, AttributeError):
        return None
    powf.restype = ctypes.c_float
    powf.argtypes = (ctypes.c_float, ctypes.c_float)
    return powf


_POWF = _libm_powf()


def powf(x: float, y: float) -> float:
    """C ``powf`` of the float32 roundings of x and y; a rounded double ``pow`` where libm is not found."""
    x, y = f32(x), f32(y)
    return _POWF(x, y) if _POWF is not None else f32(math.pow(x, y))


@dataclass(frozen=True)
class MosaicDraws:
    """Random quantities of ``mosaic_rotation_umat`` for n domains.

    axis: [n, 3] float64 unit rotation axes (v1, v2, v3).
    cap: [n] float32, ``powf(1 - r3*r3, 1/3)``; the rotation angle is ``spread * cap``.
    """

    axis: np.ndarray
    cap: np.ndarray


def mosaic_domain_draws(rng: CRandom, seed: Seed, n_domains: int) -> MosaicDraws:
    """Draw the axes and cap factors of ``n_domains`` domains; 3 ``ran1`` per domain, in C order."""
    if isinstance(n_domains, bool) or not isinstance(n_domains, (int, np.integer)) or n_domains < 0:
        raise InputError(f"n_domains must be a non-negative integer, got {n_domains!r}")
    axis = np.empty((n_domains, 3), dtype=np.float64)
    cap = np.empty(n_domains, dtype=np.float32)
    for i in range(n_domains):
        r1 = 2.0 * rng.ran1(seed) - 1.0
        r2 = 2.0 * rng.ran1(seed) - 1.0
        r3 = 2.0 * rng.ran1(seed) - 1.0
        xyrad = math.sqrt(1.0 - r2 * r2)
        axis[i] = (xyrad * math.sin(math.pi * r1), xyrad * math.cos(math.pi * r1), r2)
        cap[i] = powf(1.0 - r3 * r3, _ONE_THIRD_F32)
    return MosaicDraws(axis=axis, cap=cap)


def _round_f32(x: torch.Tensor, enabled: bool) -> torch.Tensor:
    """Value rounded to float32 (when enabled), derivative of the unrounded ``x`` (straight-through)."""
    if not enabled or x.dtype == torch.float32:
        return x
    return x + (x.to(torch.float32).to(x.dtype) - x).detach()


def mosaic_rotation_matrices(
    spread_rad, draws: MosaicDraws, force_first_identity: bool = True, round_float32: bool = True
) -> torch.Tensor:
    """Rotation matrices [n, 3, 3] of the mosaic domains for a spread (radians, scalar).

    Follows the C: ``rot = (float)spread * cap`` rounded to float32, then rotation
    by ``rot`` about ``axis``. ``spread_rad`` sets dtype and device (a Python number
    gives float64 on the CPU) and receives gradients. ``round_float32=False`` drops
    the float32 roundings (for finite-difference checks). The C makes domain 0 the
    identity after drawing it (``force_first_identity``).
    """
    spread = spread_rad
    if not isinstance(spread, torch.Tensor):
        spread = torch.tensor(float(spread), dtype=torch.float64)
    if spread.dim() != 0:
        raise InputError(f"spread_rad must be a scalar, got shape {tuple(spread.shape)}")
    dtype, device = spread.dtype, spread.device
    axis = torch.as_tensor(draws.axis, dtype=dtype, device=device)
    cap = torch.as_tensor(draws.cap, device=device).to(dtype)
    rot = _round_f32(_round_f32(spread, round_float32) * cap, round_float32)
    v1, v2, v3 = axis.unbind(-1)
    t1 = torch.cos(rot)
    t2 = 1.0 - t1
    t6 = t2 * v1
    t7 = t6 * v2
    t8 = torch.sin(rot)
    t9 = t8 * v3
    t11 = t6 * v3
    t12 = t8 * v2
    t19 = t2 * v2 * v3
    t20 = t8 * v1
    umat = torch.stack(
        (
            t1 + t2 * (v1 * v1), t7 - t9, t11 + t12,
            t7 + t9, t1 + t2 * (v2 * v2), t19 - t20,
            t11 - t12, t19 + t20, t1 + t2 * (v3 * v3),
        ),
        dim=-1,
    ).reshape(-1, 3, 3)
    if force_first_identity and umat.shape[0] > 0:
        first = torch.eye(3, dtype=dtype, device=device).unsqueeze(0)
        umat = torch.cat((first, umat[1:]), dim=0)
    return umat


def umat_to_misset_rad(umat) -> tuple[float, float, float]:
    """Misset angles (rotx, roty, rotz) in radians of a rotation matrix (C ``umat2misset``).

    ``umat``: 9 numbers row-major or [3, 3]; re-orthonormalised as the C does.
    """
    u = np.asarray(umat, dtype=np.float64).reshape(-1)
    if u.shape != (9,):
        raise InputError(f"umat must have 9 elements, got {u.size}")
    rows = [[float(x) for x in u[0:3]], [float(x) for x in u[3:6]], [float(x) for x in u[6:9]]]
    norms = [_norm(r) for r in rows]
    rows = [_scaled(r, m) for r, m in zip(rows, norms)]
    mx, my, mz = norms
    if mx >= 0 and my <= 0 and mz <= 0:
        rows[1], rows[2] = [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
    if mx <= 0 and my >= 0 and mz <= 0:
        rows[0], rows[2] = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    if mx <= 0 and my <= 0 and mz >= 0:
        rows[0], rows[1] = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    for _ in range(2):
        x, y, z = rows
        xcy, ycz, zcx = _unit_cross(x, y), _unit_cross(y, z), _unit_cross(z, x)
        if mx <= 0:
            rows[0] = ycz
        if my <= 0:
            rows[1] = zcx
        if mz <= 0:
            rows[2] = xcy
    rows = [_scaled(r, _norm(r)) for r in rows]
    (uxx, uxy, _), (uyx, uyy, _), (uzx, uzy, uzz) = rows
    if uzx * uzx < 1.0:
        return math.atan2(uzy, uzz), math.atan2(-uzx, math.sqrt(uzy * uzy + uzz * uzz)), math.atan2(uyx, uxx)
    return math.atan2(1, 1) * 4, math.atan2(1, 1) * 2, math.atan2(uxy, -uyy)


def _norm(v):
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _scaled(v, m):
    """``v / m`` when ``m > 0``, else ``v`` unchanged (the C's guarded normalisation)."""
    return [v[0] / m, v[1] / m, v[2] / m] if m > 0 else list(v)


def _unit_cross(p, q):
    """Normalised ``p x q`` written as the C does (component order of its products)."""
    c = [p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0]]
    return _scaled(c, _norm(c))


def random_misset_rad(rng: CRandom, seed: Seed) -> tuple[float, float, float]:
    """What ``-misset random`` does: a random rotation on the full sphere, as misset angles (radians).

    The C passes 90.0 as the mosaicity of ``mosaic_rotation_umat`` (used as radians)
    and converts the matrix with ``umat2misset``. Consumes 3 ``ran1`` from ``seed``.
    """
    draws = mosaic_domain_draws(rng, seed, 1)
    umat = mosaic_rotation_matrices(torch.tensor(f32(90.0), dtype=torch.float64), draws, force_first_identity=False)
    return umat_to_misset_rad(umat[0].numpy())
