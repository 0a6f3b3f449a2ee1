"""Small vector helpers on tensors whose last dimension holds (x, y, z).

All functions broadcast over leading dimensions and keep gradients. They
follow nanoBragg.c's arithmetic so that derived values agree to rounding.
"""

import torch


def dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inner product over the last dimension: [..., 3] x [..., 3] -> [...]."""
    return u[..., 0] * v[..., 0] + u[..., 1] * v[..., 1] + u[..., 2] * v[..., 2]


def cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cross product u x v over the last dimension: [..., 3]."""
    ux, uy, uz = u.unbind(-1)
    vx, vy, vz = v.unbind(-1)
    return torch.stack((uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx), dim=-1)


def norm(v: torch.Tensor) -> torch.Tensor:
    """Euclidean length over the last dimension: [..., 3] -> [...].

    The gradient at the zero vector is zero instead of NaN.
    """
    squared = dot(v, v)
    positive = squared > 0
    safe = torch.where(positive, squared, torch.ones_like(squared))
    return torch.where(positive, torch.sqrt(safe), torch.zeros_like(squared))


def unitize(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit vector and length of ``v``; a zero vector stays zero (as the C ``unitize``).

    Returns ``(unit [..., 3], length [...])``.
    """
    length = norm(v)
    positive = (length > 0).unsqueeze(-1)
    safe_length = torch.where(length > 0, length, torch.ones_like(length)).unsqueeze(-1)
    return torch.where(positive, v / safe_length, torch.zeros_like(v)), length


def rescale(v: torch.Tensor, new_length: torch.Tensor) -> torch.Tensor:
    """``v`` scaled to length ``new_length`` (C ``vector_rescale``; zero length is taken as 1)."""
    length = norm(v)
    length = torch.where(length > 0, length, torch.ones_like(length))
    return v * (new_length / length).unsqueeze(-1)
