"""Scattering vectors S = (d - i)/lambda of every subpixel and source, with an analytic backward.

For M sample-to-subpixel vectors ``position`` [3, M] (m, axis first), J unit
incident directions ``incident`` [3, J] and wavelengths ``wavelength_A`` [J] (A),
the diffracted direction is d_m = p_m / |p_m| and

    S[:, m, j] = (d_m - i_j) / lambda_j   (1/A), returned flat as [3, M*J].

This is the widest tensor of the per-pixel geometry, so its backward is written
out: from the upstream gradient g [3, M, J], with w = g / lambda_j,

    dL/dp_m = (G_m - d_m (d_m . G_m)) / |p_m|,  G_m = sum_j w[:, m, j]
    dL/di_j = -sum_m w[:, m, j]
    dL/dlambda_j = -sum_m w[:, m, j] . S[:, m, j]

in one pass that keeps only the inputs (no per-subpixel intermediates), and
differentiable again (second derivatives, and ``jvp`` for forward mode). The sums over m
do not form S per source: with r the first incident direction, S = ((d_m - r) - (i_j - r)) / lambda_j,

    dL/di_j = -U_j / lambda_j,  dL/dlambda_j = -(V_j - (i_j - r) . U_j) / lambda_j^2,
    U_j = sum_m g[:, m, j],  V_j = sum_m g[:, m, j] (d_m - r)   ([3, J], summed over axes in the dot),

where i_j - r is as small as the beam divergence, so the two terms do not cancel in float32 (as
sum_m g d_m and i_j U_j would, d_m being close to i_j near the beam).
"""

import torch

from torch_sim.functional.compilation import maybe_compiled
from torch_sim.functional.vector_ops import dot, unitize


def _unflattened(diffracted: torch.Tensor, incident: torch.Tensor, wavelength_A: torch.Tensor) -> torch.Tensor:
    """S [3, M, J] from unit ``diffracted`` [3, M], ``incident`` [3, J] and ``wavelength_A`` [J]."""
    return (diffracted[:, :, None] - incident[:, None, :]) / wavelength_A


def _across_ray(diffracted: torch.Tensor, length: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """(v - d (d . v)) / |p| for ``vector`` v [3, M]: the change of the unit vector d = p/|p| along v (its
    adjoint too, the projection being symmetric); a zero-length p counts as length 1."""
    safe_length = torch.where(length > 0, length, torch.ones_like(length))
    return (vector - diffracted * dot(diffracted, vector, dim=0)) / safe_length


def scattering_vector_values(position: torch.Tensor, incident: torch.Tensor,
                             wavelength_A: torch.Tensor) -> torch.Tensor:
    """S [3, M*J] (1/A) for ``position`` [3, M], ``incident`` [3, J] and ``wavelength_A`` [J] (no gradients kept)."""
    diffracted, _ = unitize(position, dim=0)
    return _unflattened(diffracted, incident, wavelength_A).reshape(3, -1)


def _sums_over_rays(per_source: torch.Tensor, offset: torch.Tensor) -> tuple:
    """(U, V) [3, J]: sums over m of ``per_source`` [3, M, J] and of ``per_source`` times ``offset`` [3, M].

    Compiled with more than one source, one batched matrix product (inductor would reduce over the
    outer dimension M of the [3, M, J] tensor with strided loads, in a separate pass for each sum);
    otherwise two reductions.
    """
    if torch.compiler.is_compiling() and per_source.shape[-1] > 1:
        sums = torch.bmm(torch.stack([torch.ones_like(offset), offset], dim=1), per_source)  # [3, 2, J]
        return sums[:, 0], sums[:, 1]
    return per_source.sum(1), (per_source * offset[..., None]).sum(1)


def scattering_vector_gradients(grad_S: torch.Tensor, position: torch.Tensor, incident: torch.Tensor,
                                wavelength_A: torch.Tensor, needs: tuple = (True,) * 3) -> tuple:
    """Gradients of sum(grad_S * S) with respect to ``position``, ``incident`` and ``wavelength_A`` (None where
    ``needs``, three bools, is False); ``grad_S`` [3, M*J] as S."""
    diffracted, length = unitize(position, dim=0)
    per_source = grad_S.reshape(3, position.shape[1], -1)  # [3, M, J]
    grad_position = grad_incident = grad_wavelength = None
    if needs[0]:
        grad_position = _across_ray(diffracted, length, (per_source / wavelength_A).sum(-1))
    if needs[1] or needs[2]:
        reference = incident[:, :1]
        U, V = _sums_over_rays(per_source, diffracted - reference)
        if needs[1]:
            grad_incident = -U / wavelength_A
        if needs[2]:
            grad_wavelength = -(V - (incident - reference) * U).sum(0) / (wavelength_A * wavelength_A)
    return grad_position, grad_incident, grad_wavelength


def scattering_vector_jvp(tangents: tuple, position: torch.Tensor, incident: torch.Tensor,
                          wavelength_A: torch.Tensor) -> torch.Tensor:
    """Directional derivative dS [3, M*J] along (d_position, d_incident, d_wavelength); None means 0."""
    d_position, d_incident, d_wavelength = tangents
    diffracted, length = unitize(position, dim=0)
    d_diffracted = torch.zeros_like(position) if d_position is None else _across_ray(diffracted, length, d_position)
    change = (d_diffracted[:, :, None] - (0.0 if d_incident is None else d_incident[:, None, :])) / wavelength_A
    if d_wavelength is not None:
        change = change - _unflattened(diffracted, incident, wavelength_A) * (d_wavelength / wavelength_A)
    return change.expand(3, position.shape[1], incident.shape[1]).reshape(3, -1)


class ScatteringVectors(torch.autograd.Function):
    """S = scattering_vector_values(position, incident, wavelength_A), with analytic backward and jvp."""

    @staticmethod
    def forward(position, incident, wavelength_A, compiled):
        return maybe_compiled(scattering_vector_values, compiled)(position, incident, wavelength_A)

    @staticmethod
    def setup_context(ctx, inputs, output):
        *tensors, compiled = inputs
        ctx.compiled = compiled
        ctx.save_for_backward(*tensors)
        ctx.save_for_forward(*tensors)

    @staticmethod
    def backward(ctx, grad_S):
        # a compiled function cannot be differentiated again: double backward runs eagerly
        compiled = ctx.compiled and not torch.is_grad_enabled()
        gradients = maybe_compiled(scattering_vector_gradients, compiled, fused_multiply_add=True)(
            grad_S, *ctx.saved_tensors, tuple(ctx.needs_input_grad[:3]))
        return (*gradients, None)

    @staticmethod
    def jvp(ctx, d_position, d_incident, d_wavelength, _d_compiled):
        return scattering_vector_jvp((d_position, d_incident, d_wavelength), *ctx.saved_tensors)


def scattering_vectors(position: torch.Tensor, incident: torch.Tensor, wavelength_A: torch.Tensor,
                       compiled: bool = False) -> torch.Tensor:
    """S [3, M*J] (1/A, m major, j minor) for ``position`` [3, M] (m, from the sample), unit ``incident``
    [3, J] and ``wavelength_A`` [J], with an analytic backward that keeps only the inputs."""
    return ScatteringVectors.apply(position, incident, wavelength_A, compiled)
