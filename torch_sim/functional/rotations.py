"""Rotations used by nanoBragg.c, as differentiable torch functions.

Vectors are tensors [..., 3]; angles are radians (tensors or numbers) that
broadcast against the leading dimensions. Each function evaluates the same
expression as its C counterpart so results agree to rounding.
"""

import torch


def skip_zero_rotation(angle: torch.Tensor, original: torch.Tensor, rotated: torch.Tensor) -> torch.Tensor:
    """The C skips a rotation by exactly 0, which keeps the signs of zero components (-0.0 prints as -0).

    Done where the angle needs no gradient; otherwise the rotation stands, so the
    derivative with respect to the angle is right (only the sign of a zero differs).
    ``angle`` broadcasts against the leading dimensions of ``original`` [..., 3].
    """
    if angle.requires_grad and torch.is_grad_enabled():
        return rotated
    return torch.where((angle == 0.0)[..., None], original, rotated)


def rotate_xyz(v: torch.Tensor, phix, phiy, phiz) -> torch.Tensor:
    """Rotate ``v`` about the x axis, then y, then z (C ``rotate``), right-handed."""
    phix, phiy, phiz = (torch.as_tensor(angle, dtype=v.dtype, device=v.device) for angle in (phix, phiy, phiz))
    x, y, z = v.unbind(-1)
    cx, sx = torch.cos(phix), torch.sin(phix)
    v = skip_zero_rotation(phix, v, torch.stack(torch.broadcast_tensors(x, y * cx - z * sx, y * sx + z * cx), -1))
    x, y, z = v.unbind(-1)
    cy, sy = torch.cos(phiy), torch.sin(phiy)
    v = skip_zero_rotation(phiy, v, torch.stack(torch.broadcast_tensors(x * cy + z * sy, y, -x * sy + z * cy), -1))
    x, y, z = v.unbind(-1)
    cz, sz = torch.cos(phiz), torch.sin(phiz)
    return skip_zero_rotation(phiz, v, torch.stack(torch.broadcast_tensors(x * cz - y * sz, x * sz + y * cz, z), -1))


def rotate_axis(v: torch.Tensor, axis: torch.Tensor, phi, dim: int = -1) -> torch.Tensor:
    """Rotate ``v`` by ``phi`` about ``axis`` (C ``rotate_axis``; the axis is used as given, not normalised).

    ``dim`` is the vector dimension of ``v`` and of the result (``axis`` is [3]).
    """
    phi = torch.as_tensor(phi, dtype=v.dtype, device=v.device)
    sin_phi = torch.sin(phi)
    cos_phi = torch.cos(phi)
    ax, ay, az = axis.unbind(-1)
    vx, vy, vz = v.unbind(dim)
    along = (ax * vx + ay * vy + az * vz) * (1.0 - cos_phi)
    x = ax * along + vx * cos_phi + (-az * vy + ay * vz) * sin_phi
    y = ay * along + vy * cos_phi + (az * vx - ax * vz) * sin_phi
    z = az * along + vz * cos_phi + (-ay * vx + ax * vy) * sin_phi
    x, y, z = torch.broadcast_tensors(x, y, z)
    return torch.stack((x, y, z), dim=dim)


def rotate_umat(v: torch.Tensor, umat: torch.Tensor) -> torch.Tensor:
    """Apply rotation matrices ``umat`` [..., 3, 3] to ``v`` [..., 3] (C ``rotate_umat``: new = U v)."""
    return torch.einsum("...ij,...j->...i", umat, v)
