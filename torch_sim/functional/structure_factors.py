"""Structure factors F_cell at fractional Miller indices: nearest reflection or tricubic interpolation.

The table is a dense tensor F [H, K, L] whose entry [0, 0, 0] is reflection
``hkl_min`` [3]. Indices outside the table give ``default_F`` (nearest-reflection
lookups read it from a border around the table). Interpolation is
the C program's tensor product of 4-point Lagrange polynomials through the
reflections floor(h)-1 .. floor(h)+2 in each direction. Miller indices are
axis first, h [3, ...].
"""

import torch

from torch_sim.functional.lattice_shape import nearest_index


def table_with_default_border(table: torch.Tensor, default_F: torch.Tensor) -> torch.Tensor:
    """The table [H, K, L] inside a border of ``default_F`` one entry wide, [H+2, K+2, L+2].

    Every index outside the table clamps onto the border, so a nearest-reflection
    lookup is one gather (and its gradient one scatter) with no mask.
    """
    border = torch.nn.functional.pad(torch.zeros(table.shape, dtype=torch.bool, device=table.device), (1,) * 6,
                                     value=True)
    return torch.where(border, default_F, torch.nn.functional.pad(table, (1,) * 6))


def nearest_table_index(h: torch.Tensor, hkl_min: torch.Tensor, bordered_shape: tuple[int, int, int]) -> torch.Tensor:
    """Flat int32 index [...] into :func:`table_with_default_border` of the nearest reflection
    (C ``ceil(h-0.5)``) to h [3, ...] (a tensor or three tensors); outside the table, a border entry."""
    offset = [torch.clamp(nearest_index(h[axis]) - hkl_min[axis] + 1.0, 0.0, bordered_shape[axis] - 1.0)
              .to(torch.int32) for axis in range(3)]
    flat = (offset[0] * bordered_shape[1] + offset[1]) * bordered_shape[2] + offset[2]
    # a NaN index converts to an arbitrary integer: keep every lookup inside the table
    return torch.clamp(flat, 0, bordered_shape[0] * bordered_shape[1] * bordered_shape[2] - 1)


def nearest_structure_factor(h: torch.Tensor, bordered_table: torch.Tensor, hkl_min: torch.Tensor) -> torch.Tensor:
    """F [...] of the nearest reflection to h [3, ...] in :func:`table_with_default_border`'s table
    (``default_F`` outside the table)."""
    return bordered_table.reshape(-1)[nearest_table_index(h, hkl_min, tuple(bordered_table.shape))]


def interpolation_out_of_range(h: torch.Tensor, hkl_min: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """The C test for a 4-point stencil leaving the table: (h - h_min + 3) > h_range or h - 2 < h_min, any axis."""
    out = torch.zeros(h.shape[1:], dtype=torch.bool, device=h.device)
    for axis in range(3):
        out = out | (h[axis] - hkl_min[axis] + 3 > shape[axis]) | (h[axis] - 2 < hkl_min[axis])
    return out


def _lagrange_weights(u: torch.Tensor) -> list:
    """Weights of the nodes -1, 0, 1, 2 for a position u in [0, 1) after the floor."""
    return [
        -u * (u - 1.0) * (u - 2.0) / 6.0,
        (u + 1.0) * (u - 1.0) * (u - 2.0) / 2.0,
        -(u + 1.0) * u * (u - 2.0) / 2.0,
        (u + 1.0) * u * (u - 1.0) / 6.0,
    ]


def interpolated_structure_factor(h: torch.Tensor, table: torch.Tensor, hkl_min: torch.Tensor) -> torch.Tensor:
    """Tricubic Lagrange interpolation of F (C ``polin3``); h [3, ...] -> [...].

    Only meaningful where :func:`interpolation_out_of_range` is False; elsewhere
    the stencil is clamped into the table.
    """
    base = torch.floor(h).detach()
    weights = [_lagrange_weights(h[axis] - base[axis]) for axis in range(3)]
    sizes = table.shape
    # table positions of the 4 stencil nodes per axis, clamped into the table (also when an axis is shorter than 4)
    nodes = [[torch.clamp((base[axis] - 1.0 - hkl_min[axis]).to(torch.long) + i, 0, sizes[axis] - 1) for i in range(4)]
             for axis in range(3)]
    flat_table = table.reshape(-1)
    result = torch.zeros(h.shape[1:], dtype=h.dtype, device=h.device)
    for i in range(4):
        for j in range(4):
            row = (nodes[0][i] * sizes[1] + nodes[1][j]) * sizes[2]
            along_l = sum(flat_table[row + nodes[2][k]] * weights[2][k] for k in range(4))
            result = result + weights[0][i] * weights[1][j] * along_l
    return result
