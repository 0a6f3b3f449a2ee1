"""Fraction of the photons absorbed in one layer of the detector sensor (C ``capture_fraction``)."""

import torch


def layer_capture_fraction(layer: torch.Tensor, layer_thickness: torch.Tensor, mu: torch.Tensor, parallax: torch.Tensor) -> torch.Tensor:
    """exp(-t d mu / p) - exp(-(t+1) d mu / p) for layer index t, layer thickness d (m), attenuation mu (1/m).

    ``parallax`` p is the cosine between the diffracted ray and the detector normal.
    """
    depth = layer_thickness * mu / parallax
    return torch.exp(-layer * depth) - torch.exp(-(layer + 1.0) * depth)
