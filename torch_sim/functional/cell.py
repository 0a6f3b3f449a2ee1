"""Unit cell: real and reciprocal lattice vectors as nanoBragg.c derives them.

Lengths in Angstrom, reciprocal lengths in 1/Angstrom, angles in radians.
Vectors are tensors [3]. The C program builds reciprocal vectors in a default
frame (a* along x, b* in the x-y plane), optionally replaces them by a MOSFLM
matrix, applies the misset rotation, then derives the real-space vectors from
cross products and rebuilds the reciprocal ones from those.
"""

import math
from dataclasses import dataclass

import torch

from torch_sim.errors import InputError
from torch_sim.functional.vector_ops import correctly_rounded_sqrt, cross, dot, norm, rescale


@dataclass
class LatticeVectors:
    """Real (a, b, c; Angstrom) and reciprocal (a*, b*, c*; 1/Angstrom) vectors and the cell volume."""

    a: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    a_star: torch.Tensor
    b_star: torch.Tensor
    c_star: torch.Tensor
    volume_A3: torch.Tensor
    #: The reciprocal volume the C keeps (not always exactly 1/volume_A3).
    inverse_volume: torch.Tensor

    @property
    def real_matrix(self) -> torch.Tensor:
        """Rows a, b, c: [3, 3]."""
        return torch.stack((self.a, self.b, self.c))

    @property
    def reciprocal_matrix(self) -> torch.Tensor:
        """Rows a*, b*, c*: [3, 3]."""
        return torch.stack((self.a_star, self.b_star, self.c_star))


def _clamp_unit(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, -1.0, 1.0)


def _clamp_cos(x: torch.Tensor) -> torch.Tensor:
    """The C replaces a cosine whose square exceeds 1 by +1."""
    return torch.where(x * x > 1.0, torch.ones_like(x), x)


def cell_volume(a, b, c, alpha, beta, gamma) -> torch.Tensor:
    """Cell volume (A^3) from lengths and angles (radians), the C program's formula."""
    half_sum = (alpha + beta + gamma) / 2
    skew = torch.sin(half_sum) * torch.sin(half_sum - alpha) * torch.sin(half_sum - beta) * torch.sin(half_sum - gamma)
    return 2.0 * a * b * c * correctly_rounded_sqrt(torch.abs(skew))


def check_cell(a_A: float, b_A: float, c_A: float, alpha_deg: float, beta_deg: float, gamma_deg: float) -> None:
    """Raise InputError unless the cell has positive lengths and a positive volume."""
    if not all(math.isfinite(x) for x in (a_A, b_A, c_A, alpha_deg, beta_deg, gamma_deg)):
        raise InputError(f"unit cell has a non-finite value: {a_A:g} {b_A:g} {c_A:g} {alpha_deg:g} {beta_deg:g} {gamma_deg:g}")
    if min(a_A, b_A, c_A) <= 0:
        raise InputError(f"unit cell lengths must be positive: {a_A:g} {b_A:g} {c_A:g}")
    angles = [math.radians(x) for x in (alpha_deg, beta_deg, gamma_deg)]
    half = sum(angles) / 2
    skew = math.sin(half) * math.sin(half - angles[0]) * math.sin(half - angles[1]) * math.sin(half - angles[2])
    if not skew > 1e-12 or not all(0 < x < math.pi for x in angles):
        raise InputError(f"impossible unit cell angles {alpha_deg:g} {beta_deg:g} {gamma_deg:g}: the cell has no volume")


def reciprocal_default_frame(a, b, c, alpha, beta, gamma) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reciprocal vectors (1/A) of a cell in the C default orientation, and the volume (A^3).

    a* lies along x and b* in the x-y plane. The cell must have a positive volume
    (checked when the configuration is built, see :func:`check_cell`).
    """
    volume = cell_volume(a, b, c, alpha, beta, gamma)
    v_star = 1.0 / volume
    a_star_len = b * c * torch.sin(alpha) * v_star
    b_star_len = c * a * torch.sin(beta) * v_star
    c_star_len = a * b * torch.sin(gamma) * v_star
    sin_gamma_star = _clamp_unit(c * v_star / a_star_len / b_star_len)
    cos_alpha_star = _clamp_cos((torch.cos(beta) * torch.cos(gamma) - torch.cos(alpha)) / (torch.sin(beta) * torch.sin(gamma)))
    cos_beta_star = _clamp_cos((torch.cos(gamma) * torch.cos(alpha) - torch.cos(beta)) / (torch.sin(gamma) * torch.sin(alpha)))
    cos_gamma_star = _clamp_cos((torch.cos(alpha) * torch.cos(beta) - torch.cos(gamma)) / (torch.sin(alpha) * torch.sin(beta)))
    zero = torch.zeros_like(a_star_len)
    a_star = torch.stack((a_star_len, zero, zero))
    b_star = torch.stack((b_star_len * cos_gamma_star, b_star_len * sin_gamma_star, zero))
    c_star = torch.stack((
        c_star_len * cos_beta_star,
        c_star_len * (cos_alpha_star - cos_beta_star * cos_gamma_star) / sin_gamma_star,
        c_star_len * volume / (a * b * c * sin_gamma_star),
    ))
    return a_star, b_star, c_star, volume


def lattice_from_reciprocal(a_star, b_star, c_star, user_cell_lengths=None) -> LatticeVectors:
    """Real and rebuilt reciprocal vectors from reciprocal vectors (C cross-product rebuild).

    ``user_cell_lengths``: ``(a, b, c, volume)`` of a cell given with ``-cell``; the C
    program then forces |b* x c*| = a/V (and cyclic), i.e. real lengths a, b, c.
    """
    a_star_cross_b_star = cross(a_star, b_star)
    b_star_cross_c_star = cross(b_star, c_star)
    c_star_cross_a_star = cross(c_star, a_star)
    v_star = dot(a_star, b_star_cross_c_star)
    if user_cell_lengths is not None:
        a_len, b_len, c_len, volume = user_cell_lengths
        b_star_cross_c_star = rescale(b_star_cross_c_star, a_len / volume)
        c_star_cross_a_star = rescale(c_star_cross_a_star, b_len / volume)
        a_star_cross_b_star = rescale(a_star_cross_b_star, c_len / volume)
        v_star = 1.0 / volume
    volume = 1.0 / v_star
    a = b_star_cross_c_star * volume
    b = c_star_cross_a_star * volume
    c = a_star_cross_b_star * volume
    return LatticeVectors(
        a=a, b=b, c=c,
        a_star=cross(b, c) * v_star, b_star=cross(c, a) * v_star, c_star=cross(a, b) * v_star,
        volume_A3=volume, inverse_volume=v_star,
    )


def cell_angle_terms(vectors: LatticeVectors) -> dict:
    """Sines and cosines of the cell and reciprocal-cell angles as the C computes them, before clamping.

    Keys ``sin_alpha``, ``cos_alpha``, ... ``sin_gamma_star``, ``cos_gamma_star``.
    """
    a_len, b_len, c_len = norm(vectors.a), norm(vectors.b), norm(vectors.c)
    as_len, bs_len, cs_len = norm(vectors.a_star), norm(vectors.b_star), norm(vectors.c_star)
    volume, v_star = vectors.volume_A3, vectors.inverse_volume
    return {
        "sin_alpha": as_len * volume / b_len / c_len, "cos_alpha": dot(vectors.b, vectors.c) / b_len / c_len,
        "sin_beta": bs_len * volume / a_len / c_len, "cos_beta": dot(vectors.a, vectors.c) / a_len / c_len,
        "sin_gamma": cs_len * volume / a_len / b_len, "cos_gamma": dot(vectors.a, vectors.b) / a_len / b_len,
        "sin_alpha_star": a_len * v_star / bs_len / cs_len,
        "cos_alpha_star": dot(vectors.b_star, vectors.c_star) / bs_len / cs_len,
        "sin_beta_star": b_len * v_star / as_len / cs_len,
        "cos_beta_star": dot(vectors.a_star, vectors.c_star) / as_len / cs_len,
        "sin_gamma_star": c_len * v_star / as_len / bs_len,
        "cos_gamma_star": dot(vectors.a_star, vectors.b_star) / as_len / bs_len,
    }


def cell_parameters(vectors: LatticeVectors) -> tuple[torch.Tensor, ...]:
    """(a, b, c, alpha, beta, gamma, a*, b*, c*, alpha*, beta*, gamma*) with angles in radians, as the C prints them."""
    terms = cell_angle_terms(vectors)
    angles = [torch.atan2(_clamp_unit(terms[f"sin_{name}"]), _clamp_cos(terms[f"cos_{name}"]))
              for name in ("alpha", "beta", "gamma", "alpha_star", "beta_star", "gamma_star")]
    lengths = [norm(v) for v in (vectors.a, vectors.b, vectors.c, vectors.a_star, vectors.b_star, vectors.c_star)]
    return (*lengths[:3], *angles[:3], *lengths[3:], *angles[3:])


def user_cell_reciprocal_terms(a, b, c, alpha, beta, gamma) -> dict:
    """The reciprocal-angle sines and cosines the C computes from a ``-cell`` (floats; lengths A, angles rad)."""
    half = (alpha + beta + gamma) / 2
    skew = abs(math.sin(half) * math.sin(half - alpha) * math.sin(half - beta) * math.sin(half - gamma))
    volume = 2.0 * a * b * c * math.sqrt(skew)
    v_star = 1.0 / volume
    a_star, b_star, c_star = b * c * math.sin(alpha) * v_star, c * a * math.sin(beta) * v_star, a * b * math.sin(gamma) * v_star
    return {
        "sin_alpha_star": a * v_star / b_star / c_star,
        "cos_alpha_star": (math.cos(beta) * math.cos(gamma) - math.cos(alpha)) / (math.sin(beta) * math.sin(gamma)),
        "sin_beta_star": b * v_star / a_star / c_star,
        "cos_beta_star": (math.cos(gamma) * math.cos(alpha) - math.cos(beta)) / (math.sin(gamma) * math.sin(alpha)),
        "sin_gamma_star": c * v_star / a_star / b_star,
        "cos_gamma_star": (math.cos(alpha) * math.cos(beta) - math.cos(gamma)) / (math.sin(alpha) * math.sin(beta)),
    }
