"""Polarization factor of the scattered intensity (C ``polarization_factor``)."""

import torch

from torch_sim.functional.vector_ops import cross, dot, unitize


def polarization_factor(kahn_factor, incident: torch.Tensor, diffracted: torch.Tensor, polar_axis: torch.Tensor,
                        dim: int = -1) -> torch.Tensor:
    """0.5 (1 + cos^2 2theta - K cos(2 psi) sin^2 2theta) for unit ``incident`` and ``diffracted`` [..., 3].

    psi is the azimuth of the diffracted ray about the incident beam, measured
    from the E-vector (the part of ``polar_axis`` perpendicular to the beam).
    With unit vectors, cos(2 psi) sin^2(2theta) = E^2 - B^2 where E and B are
    the diffracted ray's components along the E and B directions; that form is
    smooth where the C program's atan2 is not (diffracted ray along the beam).
    A polarization axis along the beam leaves no E-vector: the C then takes psi = 0.
    ``dim`` is the vector dimension of ``incident`` and ``diffracted`` (``polar_axis`` is [3]).
    """
    cos2theta = dot(incident, diffracted, dim)
    b_in, b_length = unitize(cross(polar_axis, incident, dim), dim)
    e_in, _ = unitize(cross(incident, b_in, dim), dim)
    e_out = dot(diffracted, e_in, dim)
    b_out = dot(diffracted, b_in, dim)
    anisotropy = torch.where(b_length > 0, e_out * e_out - b_out * b_out, 1.0 - cos2theta * cos2theta)
    return 0.5 * (1.0 + cos2theta * cos2theta - kahn_factor * anisotropy)
