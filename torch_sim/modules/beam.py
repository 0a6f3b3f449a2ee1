"""The X-ray beam as an nn.Module: wavelength, fluence, polarization, sources, water background."""

import torch
from torch import nn

from torch_sim.config.beam_config import BeamConfig
from torch_sim.functional.sources import source_grid
from torch_sim.modules.parameters import parameter_dict
from torch_sim.units import AVOGADRO, R_E_SQR_M2, WATER_F, WATER_MW_G_PER_MOL


class Beam(nn.Module):
    """Incident beam of nanoBragg.c.

    Parameters (``params``, command-line units): ``wavelength`` (A), ``fluence``
    (photons/m^2), ``polarization`` (Kahn factor), ``water_size`` (um), and for
    generated sources (no source file) whose steps follow their ranges
    ``hdivrange``, ``vdivrange`` (mrad) and ``dispersion`` (percent).
    """

    def __init__(self, config: BeamConfig, dtype: torch.dtype = torch.float64, device=None):
        super().__init__()
        self.config = config
        values = dict(wavelength=config.wavelength_A, fluence=config.fluence, polarization=config.polarization,
                      water_size=config.water_size_um)
        if config.source_file is None:
            grid = config.grid
            for name, rule, value in (("hdivrange", grid.hdivstep_rule, config.hdivrange_mrad),
                                      ("vdivrange", grid.vdivstep_rule, config.vdivrange_mrad),
                                      ("dispersion", grid.dispstep_rule, config.dispersion_percent)):
                if rule.divisor is not None:
                    values[name] = value
        self.params = parameter_dict(values, dtype, device)

    def _range(self, name: str, scale: float, given: float) -> torch.Tensor:
        if name in self.params:
            return self.params[name] / scale
        return torch.full_like(self.params["wavelength"], given / scale)

    def sources(self, beam_vector: torch.Tensor, polar_vector: torch.Tensor):
        """Incident unit vectors [J, 3], wavelengths (A) [J] and weights [J]."""
        config = self.config
        return source_grid(
            config, beam_vector, polar_vector, self.params["wavelength"],
            self._range("hdivrange", 1000.0, config.hdivrange_mrad),
            self._range("vdivrange", 1000.0, config.vdivrange_mrad),
            self._range("dispersion", 100.0, config.dispersion_percent),
        )

    def water_background(self) -> torch.Tensor:
        """The C program's I_bg: F_water^2 r_e^2 fluence size^3 1e6 N_A / MW (added to every pixel's sum)."""
        size_m = self.params["water_size"] / 1e6
        return WATER_F * WATER_F * R_E_SQR_M2 * self.params["fluence"] * size_m * size_m * size_m * 1e6 * AVOGADRO / WATER_MW_G_PER_MOL
