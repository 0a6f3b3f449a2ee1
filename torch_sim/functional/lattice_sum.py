"""The hot loop: F_cell^2 F_latt^2 summed over phi steps and mosaic domains, with an analytic backward.

For Q scattering vectors S [3, Q] (1/A, axis first) and R rotated cells
A [R, 3, 3] (rows a, b, c in A), the Miller indices are h = A_r S_q and the sum is

    T_q = sum_r F(h)^2 L(h)^2.

``lattice_sum`` is a ``torch.autograd.Function``: its forward keeps no
intermediates (only the inputs), and its backward recomputes the indices and
evaluates closed-form derivatives of the lattice factor and the structure
factor in one pass. Memory is O(Q x R) for the chunk being differentiated,
instead of the dozens of intermediates autograd would keep; the backward is
differentiable again (second derivatives), since it is made of torch
operations, and it also provides forward-mode derivatives (``jvp``).

Per-evaluation tensors are laid out [R, Q] so the long dimension is innermost and a
compiler can vectorize it; compiled, the Miller indices are formed inside the loop that
reads them (no [3, R, Q] tensor is written). Supported here:
every crystal shape with a constant ``default_F`` or the nearest-reflection
table; tricubic interpolation and the ``-oversample_*`` running products take
the generic autograd path in ``pixel_kernel``.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch

from torch_sim.config.enums import CrystalShape
from torch_sim.functional.compilation import maybe_compiled
from torch_sim.functional.lattice_shape import lattice_factor
from torch_sim.functional.scatter_sum import scatter_sum
from torch_sim.functional.structure_factors import nearest_table_index


@dataclass(frozen=True)
class LatticeSumSpec:
    """Static choices of the lattice sum: crystal shape, fudge factor, table or constant F, compiled or eager."""

    shape: CrystalShape
    fudge: float
    use_table: bool
    compiled: bool = False


def miller_indices(S: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """h [3, R, Q] = A_r S_q for S [3, Q] and A [R, 3, 3] (one matrix product)."""
    return (A.transpose(0, 1).reshape(-1, 3) @ S).reshape(3, A.shape[0], S.shape[1])


def miller_index_axes(S: torch.Tensor, A: torch.Tensor) -> tuple:
    """h_k [R, Q] for k = 0, 1, 2, as :func:`miller_indices`: compiled, broadcast sums that fuse into the loop
    reading them (no [3, R, Q] tensor is written); eagerly, the matrix product."""
    if torch.compiler.is_compiling():
        return tuple(A[:, k, 0, None] * S[0] + A[:, k, 1, None] * S[1] + A[:, k, 2, None] * S[2] for k in range(3))
    return miller_indices(S, A).unbind(0)


def _structure_factor(h, table, hkl_min, default_F, spec: LatticeSumSpec):
    """(F [R, Q], flat index into the bordered table or None) for h, three tensors [R, Q]."""
    if spec.use_table:
        index = nearest_table_index(h, hkl_min, tuple(table.shape))
        return table.reshape(-1)[index], index
    return default_F.expand(h[0].shape), None


def lattice_sum_values(S, A, N, reciprocal, table, hkl_min, default_F, spec: LatticeSumSpec) -> torch.Tensor:
    """T [Q] = sum over r of F^2 L^2 (no gradients kept; the forward of :class:`LatticeSum`).

    ``table`` is the bordered table of :func:`lattice_sum`.
    """
    h = miller_index_axes(S, A)
    value, _, _, _ = lattice_factor(h, N, reciprocal, spec.shape, spec.fudge)
    F, _ = _structure_factor(h, table, hkl_min, default_F, spec)
    amplitude = F * value
    return (amplitude * amplitude).sum(0)


def _derivative_pieces(h, N, reciprocal, table, hkl_min, default_F, spec: LatticeSumSpec):
    """Per evaluation [R, Q] from h (three tensors [R, Q]): lattice derivatives (lists over axes),
    d(F^2 L^2)/dL and /dF, and the table index."""
    L, dL_dh, dL_dN, dL_drec = lattice_factor(h, N, reciprocal, spec.shape, spec.fudge, with_derivatives=True)
    F, index = _structure_factor(h, table, hkl_min, default_F, spec)
    return dL_dh, dL_dN, dL_drec, 2.0 * F * F * L, 2.0 * F * L * L, index


def _scattering_gradient(g_h, A) -> torch.Tensor:
    """grad_S [3, Q] = sum over the axis k and r of g_h[k, r] A[r, k]: compiled, one pass; eagerly, one matrix
    product [3, 3R] x [3R, Q] (a broadcast product and sum take 30 times longer)."""
    if torch.compiler.is_compiling():
        return torch.stack([(g_h * A.permute(1, 0, 2)[:, :, x, None]).sum((0, 1)) for x in range(3)])
    return A.permute(2, 1, 0).reshape(3, -1) @ g_h.reshape(-1, g_h.shape[-1])


def _gradient_pieces(grad_T, S, A, N, reciprocal, table, hkl_min, default_F, spec: LatticeSumSpec,
                     needs: tuple) -> tuple:
    """From S [3, Q], A [R, 3, 3] and the upstream gradient ``grad_T`` [Q]: d/dS [3, Q], d/dA [R, 3, 3],
    the sums of d/dN [3] and (Gaussian spots) of d/dreciprocal [3, 3], d/dF [R, Q], and where each d/dF
    goes in the flat table [R, Q] (or None without a table).

    ``needs`` (bools for S, A, N, reciprocal, table, default_F) leaves out, as None, what
    no gradient needs. Every per-evaluation value shares the shape [R, Q], so a compiled
    version computes them in one loop, each sine once, from the Miller indices it forms itself.
    """
    h = miller_index_axes(S, A)
    weight = grad_T[None, :]
    need_S, need_A, need_N, need_reciprocal, need_table, need_default = needs
    dL_dh, dL_dN, dL_drec, d_term_dL, d_term_dF, index = _derivative_pieces(
        h, N, reciprocal, table, hkl_min, default_F, spec)
    scale = weight * d_term_dL
    g_h = [scale * d for d in dL_dh] if need_S or need_A else None
    grad_A = grad_N = grad_reciprocal = g_F = None
    if need_A and torch.compiler.is_compiling():  # nine sums inside the loop
        grad_A = torch.stack([torch.stack([(g_h[k] * S[x]).sum(-1) for x in range(3)], dim=-1)
                              for k in range(3)], dim=1)
    elif need_A:  # eagerly, one matrix product: [3R, Q] x [Q, 3]
        grad_A = (torch.stack(g_h).reshape(-1, S.shape[1]) @ S.T).reshape(3, -1, 3).transpose(0, 1)
    if need_N:
        grad_N = torch.stack([(scale * d).sum() for d in dL_dN])
    if need_reciprocal and dL_drec is not None:
        grad_reciprocal = torch.stack([torch.stack([(scale * d).sum() for d in row]) for row in dL_drec])
    if need_table if spec.use_table else need_default:
        g_F = weight * d_term_dF
    if not (spec.use_table and need_table):
        index = None
    grad_S = _scattering_gradient(torch.stack(g_h), A) if need_S else None
    return grad_S, grad_A, grad_N, grad_reciprocal, g_F, index


def lattice_sum_gradients(grad_T, S, A, N, reciprocal, table, hkl_min, default_F, spec: LatticeSumSpec,
                          needs: tuple = (True,) * 6):
    """Gradients of sum_q grad_T[q] T[q] with respect to S, A, N, reciprocal, table and default_F (None
    where ``needs``, bools in that order, is False)."""
    pieces = maybe_compiled(_gradient_pieces, spec.compiled, recompute_reused_values=True, fused_multiply_add=True)
    grad_S, grad_A, grad_N, grad_reciprocal, g_F, index = pieces(
        grad_T, S, A, N, reciprocal, table, hkl_min, default_F, spec, tuple(needs))
    grad_table = grad_default = None
    if index is not None:
        grad_table = scatter_sum(index.reshape(-1), g_F.reshape(-1), table.numel(),
                                 native=spec.compiled).reshape(table.shape)
    elif g_F is not None:
        grad_default = g_F.sum()
    return grad_S, grad_A, grad_N, grad_reciprocal, grad_table, grad_default


def lattice_sum_jvp(tangents, S, A, N, reciprocal, table, hkl_min, default_F, spec: LatticeSumSpec) -> torch.Tensor:
    """Directional derivative dT [Q] along tangents (dS, dA, dN, dreciprocal, dtable, ddefault_F); None means 0."""
    dS, dA, dN, d_reciprocal, d_table, d_default = tangents
    dL_dh, dL_dN, dL_drec, d_term_dL, d_term_dF, index = _derivative_pieces(
        miller_index_axes(S, A), N, reciprocal, table, hkl_min, default_F, spec)
    dL = torch.zeros_like(d_term_dL)
    tangents_h = [miller_index_axes(dS, A) if dS is not None else None,
                  miller_index_axes(S, dA) if dA is not None else None]
    for dh in tangents_h:
        if dh is not None:
            dL = dL + sum(dL_dh[k] * dh[k] for k in range(3))
    if dN is not None:
        dL = dL + sum(dL_dN[k] * dN[k] for k in range(3))
    if d_reciprocal is not None and dL_drec is not None:
        dL = dL + sum(dL_drec[i][j] * d_reciprocal[i, j] for i in range(3) for j in range(3))
    dF = torch.zeros_like(d_term_dF)
    if spec.use_table and d_table is not None:
        dF = dF + d_table.reshape(-1)[index]
    elif not spec.use_table and d_default is not None:
        dF = dF + d_default
    return (d_term_dL * dL + d_term_dF * dF).sum(0)


class LatticeSum(torch.autograd.Function):
    """T = lattice_sum_values(...) with analytic backward and forward-mode derivatives."""

    @staticmethod
    def forward(S, A, N, reciprocal, table, hkl_min, default_F, spec):
        values = maybe_compiled(lattice_sum_values, spec.compiled, recompute_reused_values=True)
        return values(S, A, N, reciprocal, table, hkl_min, default_F, spec)

    @staticmethod
    def setup_context(ctx, inputs, output):
        *tensors, spec = inputs
        ctx.spec = spec
        ctx.save_for_backward(*tensors)
        ctx.save_for_forward(*tensors)

    @staticmethod
    def backward(ctx, grad_T):
        # a compiled function cannot be differentiated again: double backward runs eagerly
        spec = ctx.spec if not torch.is_grad_enabled() else dataclasses.replace(ctx.spec, compiled=False)
        needs = ctx.needs_input_grad
        grad_S, grad_A, grad_N, grad_reciprocal, grad_table, grad_default = lattice_sum_gradients(
            grad_T, *ctx.saved_tensors, spec, needs=(needs[0], needs[1], needs[2], needs[3], needs[4], needs[6]))
        return grad_S, grad_A, grad_N, grad_reciprocal, grad_table, None, grad_default, None

    @staticmethod
    def jvp(ctx, dS, dA, dN, d_reciprocal, d_table, _d_hkl_min, d_default, _d_spec):
        return lattice_sum_jvp((dS, dA, dN, d_reciprocal, d_table, d_default), *ctx.saved_tensors, ctx.spec)


def lattice_sum(S: torch.Tensor, A: torch.Tensor, N: torch.Tensor, reciprocal: torch.Tensor,
                table: Optional[torch.Tensor], hkl_min: Optional[torch.Tensor], default_F: torch.Tensor,
                spec: LatticeSumSpec) -> torch.Tensor:
    """T [Q] = sum_r F(A_r S_q)^2 L(A_r S_q)^2 for S [3, Q] (contiguous, axis first), with an analytic backward.

    ``table``: the structure factors inside their ``default_F`` border (:func:`table_with_default_border`,
    made once per render; entry [1, 1, 1] is the reflection ``hkl_min``), or None for a constant ``default_F``.
    """
    if table is None:
        table = hkl_min = default_F.new_zeros(0)
    return LatticeSum.apply(S, A, N, reciprocal, table, hkl_min, default_F, spec)
