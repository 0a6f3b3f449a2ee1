"""Small vector helpers on tensors whose last dimension holds (x, y, z).

All functions broadcast over the other dimensions and keep gradients. They
follow nanoBragg.c's arithmetic so that derived values agree to rounding.
``dot``, ``cross``, ``norm`` and ``unitize`` also take ``dim=0`` for axis-first
tensors [3, ...] (the per-subpixel layout, whose long dimension is then
contiguous and vectorizes); a [3] vector then broadcasts as three scalars.
"""

import torch

#: Veltkamp's splitting constant for float64 (2^27 + 1).
_SPLIT = 134217729.0


def _split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a = high + low with high holding the upper 26 bits (Veltkamp)."""
    scaled = _SPLIT * a
    high = scaled - (scaled - a)
    return high, a - high


def correctly_rounded_sqrt(s: torch.Tensor) -> torch.Tensor:
    """sqrt(s) rounded correctly in float64, as the C library's (torch.sqrt can be one unit in the
    last place off on vectorized CPUs, which moves the C program's integer choices at exact boundaries).

    One Newton step on the exact residual s - y^2 (Dekker's product); the
    gradient is that of torch.sqrt. Other dtypes are returned as torch.sqrt gives them.
    """
    y = torch.sqrt(s)
    if s.dtype != torch.float64:
        return y
    with torch.no_grad():
        high, low = _split(y)
        square = y * y
        error = ((high * high - square) + 2.0 * high * low) + low * low
        residual = (s - square) - error
        corrected = torch.where(y > 0, y + residual / (2.0 * y), y)
    return y + (corrected - y).detach()


def dot(u: torch.Tensor, v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Inner product over the vector dimension: [..., 3] x [..., 3] -> [...]."""
    ux, uy, uz = u.unbind(dim)
    vx, vy, vz = v.unbind(dim)
    return ux * vx + uy * vy + uz * vz


def cross(u: torch.Tensor, v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Cross product u x v over the vector dimension: [..., 3]."""
    ux, uy, uz = u.unbind(dim)
    vx, vy, vz = v.unbind(dim)
    return torch.stack((uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx), dim=dim)


def norm(v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Euclidean length over the vector dimension: [..., 3] -> [...].

    The gradient at the zero vector is zero instead of NaN.
    """
    squared = dot(v, v, dim)
    positive = squared > 0
    safe = torch.where(positive, squared, torch.ones_like(squared))
    return torch.where(positive, correctly_rounded_sqrt(safe), torch.zeros_like(squared))


def unitize(v: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit vector and length of ``v``; a zero vector stays zero (as the C ``unitize``).

    Returns ``(unit [..., 3], length [...])``.
    """
    length = norm(v, dim)
    positive = (length > 0).unsqueeze(dim)
    safe_length = torch.where(length > 0, length, torch.ones_like(length)).unsqueeze(dim)
    return torch.where(positive, v / safe_length, torch.zeros_like(v)), length


def rescale(v: torch.Tensor, new_length: torch.Tensor) -> torch.Tensor:
    """``v`` scaled to length ``new_length`` (C ``vector_rescale``; zero length is taken as 1)."""
    length = norm(v)
    length = torch.where(length > 0, length, torch.ones_like(length))
    return v * (new_length / length).unsqueeze(-1)
