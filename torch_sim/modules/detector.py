"""The detector as an nn.Module: refinable geometry parameters and the derived frame."""

import math

import torch
from torch import nn

from torch_sim.config.detector_config import DetectorConfig
from torch_sim.functional.detector_geometry import DetectorGeometry, detector_geometry
from torch_sim.modules.parameters import parameter_dict


class Detector(nn.Module):
    """Pixel-array detector of nanoBragg.c.

    Parameters (``params``, command-line units): ``pixel_size`` (mm), ``distance``
    or ``close_distance`` (mm, whichever the configuration was given), ``beam_x``,
    ``beam_y`` (mm; Xbeam/Ybeam, or the near point Fclose/Sclose for XDS and
    DIALS), ``detector_rotx``, ``detector_roty``, ``detector_rotz``, ``twotheta``
    (degrees), and with a thick sensor ``detector_thickness`` and
    ``detector_abs_depth`` (um; the depth only when it was given).
    """

    def __init__(self, config: DetectorConfig, dtype: torch.dtype = torch.float64, device=None):
        super().__init__()
        self.config = config
        values = {"pixel_size": config.pixel_size_mm}
        if config.close_distance_mm is not None:
            values["close_distance"] = config.close_distance_mm
        else:
            values["distance"] = config.distance_mm
        values.update(
            beam_x=config.beam_x_mm, beam_y=config.beam_y_mm,
            detector_rotx=config.rotx_deg, detector_roty=config.roty_deg, detector_rotz=config.rotz_deg,
            twotheta=config.twotheta_deg,
        )
        if config.thickness_um > 0.0:
            values["detector_thickness"] = config.thickness_um
            if config.abs_depth_um is not None and math.isfinite(config.abs_depth_um):
                values["detector_abs_depth"] = config.abs_depth_um
        self.params = parameter_dict(values, dtype, device)

    def forward(self) -> DetectorGeometry:
        """The oriented detector frame (metres)."""
        return detector_geometry(self.config, self.params)

    def sensor(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(layer spacing in m, attenuation mu in 1/m) of the sensor, mu as the C holds it.

        mu is 1/attenuation depth when ``-detector_abs`` was given (0 for ``inf``),
        else 1/thickness for a thick sensor, else the C's "unset" value -1.
        """
        config, reference = self.config, self.params["pixel_size"]
        if "detector_thickness" in self.params:
            thickness = self.params["detector_thickness"] * 1e-6
            spacing = thickness / config.thickstep_divisor
        else:
            thickness = spacing = torch.zeros_like(reference)
        if "detector_abs_depth" in self.params:
            mu = 1.0 / (self.params["detector_abs_depth"] * 1e-6)
        elif config.abs_depth_um is not None:
            mu = torch.full_like(reference, 0.0 if math.isinf(config.abs_depth_um) else 1.0 / (config.abs_depth_um * 1e-6))
        elif "detector_thickness" in self.params:
            mu = 1.0 / thickness
        else:
            mu = torch.full_like(reference, -1.0)
        return spacing, mu
