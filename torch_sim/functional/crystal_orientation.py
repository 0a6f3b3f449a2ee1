"""Crystal orientation: misset, orientation matrix, spindle (phi) rotation and mosaic domains.

Lengths in Angstrom, angles in radians. Vectors are tensors [..., 3].
"""

from typing import Optional, Sequence

import torch

from torch_sim.functional.cell import LatticeVectors, lattice_from_reciprocal, reciprocal_default_frame
from torch_sim.functional.rotations import rotate_axis, rotate_xyz, skip_zero_rotation


def lattice_vectors(
    a, b, c, alpha, beta, gamma,
    misset: Sequence[torch.Tensor],
    orientation: Optional[torch.Tensor] = None,
    user_cell: bool = True,
) -> LatticeVectors:
    """The crystal's lattice at phi = 0 without mosaicity, as the C program builds it.

    Reciprocal vectors of the cell in the default frame, taken through the
    orientation matrix of a ``-mat`` file (``orientation`` [3, 3]; None: identity),
    rotated by the misset angles (x, then y, then z), then real vectors from
    cross products. ``user_cell`` applies the C program's ``-cell`` length rescale.
    """
    a_star, b_star, c_star, volume = reciprocal_default_frame(a, b, c, alpha, beta, gamma)
    if orientation is not None:
        a_star, b_star, c_star = (orientation @ v for v in (a_star, b_star, c_star))
    a_star, b_star, c_star = (rotate_xyz(v, *misset) for v in (a_star, b_star, c_star))
    return lattice_from_reciprocal(a_star, b_star, c_star, (a, b, c, volume) if user_cell else None)


def phi_angles(phi_start, phi_step, phisteps: int, zero_rotates: bool = False) -> torch.Tensor:
    """Spindle angles (rad) of the phi steps, [phisteps].

    nanoBragg.c skips the rotation of a step whose angle is exactly 0 and keeps
    the vectors of the step computed before it (for the first step: the last
    step of the previous pixel or source). Unless ``zero_rotates``, such a step
    takes the previous step's angle in serial order, as the C program does for
    every evaluation but a thread's very first one.
    """
    steps = torch.arange(phisteps, dtype=phi_start.dtype, device=phi_start.device)
    phi = phi_start + phi_step * steps
    if zero_rotates or phisteps == 1:
        return phi
    return torch.where(phi == 0.0, torch.roll(phi, 1), phi)


def rotated_real_vectors(real_matrix: torch.Tensor, spindle: torch.Tensor, phi: torch.Tensor,
                         mosaic_umats: torch.Tensor) -> torch.Tensor:
    """Real-space vectors for every phi step and mosaic domain: [phisteps, domains, 3 (a, b, c), 3 (x, y, z)].

    ``real_matrix`` rows a, b, c [3, 3]; ``phi`` [P] radians; ``mosaic_umats`` [M, 3, 3], or None
    for a single unrotated domain (the C then copies the vectors instead of multiplying by the
    identity, which keeps the signs of zeros). The spindle rotation comes first, then the
    domain's rotation (C order).
    """
    rotated = rotate_axis(real_matrix[None, :, :], spindle, phi[:, None])
    rotated = skip_zero_rotation(phi[:, None], real_matrix[None, :, :], rotated)
    if mosaic_umats is None:
        return rotated[:, None]
    return torch.einsum("mij,pvj->pmvi", mosaic_umats, rotated)
