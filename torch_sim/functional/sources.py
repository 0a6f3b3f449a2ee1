"""X-ray sources: incident directions and wavelengths of the divergence x dispersion grid or a source file."""

import torch

from torch_sim.config.beam_config import BeamConfig
from torch_sim.functional.rotations import rotate_axis
from torch_sim.functional.vector_ops import cross, unitize


def source_grid(beam: BeamConfig, beam_vector: torch.Tensor, polar_vector: torch.Tensor,
                wavelength_A: torch.Tensor, hdivrange_rad: torch.Tensor, vdivrange_rad: torch.Tensor,
                dispersion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Incident unit vectors [J, 3], wavelengths (A) [J] and weights [J] of all sources, in the C order.

    Generated sources: each kept (hdiv, vdiv) grid point rotates the beam about
    the polarization axis by vdiv, then about beam x polarization by hdiv; the
    wavelength loop is innermost. ``dispersion`` is a fraction (C: percent/100).
    """
    like = wavelength_A
    if beam.source_file is not None:
        sources = beam.source_file
        incident = -torch.as_tensor(sources.directions, dtype=like.dtype, device=like.device)
        file_wavelength = torch.as_tensor(sources.wavelengths_A, dtype=like.dtype, device=like.device)
        wavelengths = torch.where(torch.isnan(file_wavelength), wavelength_A, file_wavelength)
        weights = torch.as_tensor(sources.weights, dtype=like.dtype, device=like.device)
        return incident, wavelengths, weights
    grid = beam.grid
    kept = torch.as_tensor(grid.kept, device=like.device).nonzero()
    hdiv = grid.hdivstep_rule.step(hdivrange_rad) * kept[:, 0].to(like.dtype) - hdivrange_rad / 2.0
    vdiv = grid.vdivstep_rule.step(vdivrange_rad) * kept[:, 1].to(like.dtype) - vdivrange_rad / 2.0
    vertical, _ = unitize(cross(beam_vector, polar_vector))
    toward_source = rotate_axis(-10.0 * beam_vector, polar_vector, vdiv)
    toward_source = rotate_axis(toward_source, vertical, hdiv)
    incident = -unitize(toward_source)[0]
    tics = torch.arange(grid.dispsteps, dtype=like.dtype, device=like.device)
    wavelengths = wavelength_A * (1.0 + grid.dispstep_rule.step(dispersion) * tics - dispersion / 2.0)
    incident = incident.repeat_interleave(grid.dispsteps, dim=0)
    wavelengths = wavelengths.repeat(kept.shape[0])
    return incident, wavelengths, torch.ones_like(wavelengths)
