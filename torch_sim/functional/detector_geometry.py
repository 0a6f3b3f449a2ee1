"""Detector geometry: from beam centre, distance and rotations to the pixel frame.

A port of the detector set-up of nanoBragg.c (the part of ``main`` between the
convention block and the pixel loop). Lengths are metres, angles radians,
vectors lab-frame tensors [3]. Every output is a differentiable function of the
parameter tensors in command-line units (mm, degrees).
"""

from dataclasses import dataclass
from typing import Mapping

import torch

from torch_sim.config.detector_config import DetectorConfig
from torch_sim.config.enums import Convention, Pivot
from torch_sim.functional.rotations import rotate_axis, rotate_xyz
from torch_sim.functional.vector_ops import dot
from torch_sim.units import DBL_MIN, deg_to_rad, mm_to_m


@dataclass
class DetectorGeometry:
    """Derived detector frame and the beam-centre values the C program reports (metres)."""

    pix0: torch.Tensor  #: lab vector from the sample to the corner of the first pixel
    fdet: torch.Tensor  #: unit fast axis after rotations
    sdet: torch.Tensor  #: unit slow axis after rotations
    odet: torch.Tensor  #: unit detector normal after rotations
    beam: torch.Tensor  #: unit incident beam direction
    pixel_size: torch.Tensor
    distance: torch.Tensor  #: sample to detector plane along the beam
    close_distance: torch.Tensor  #: sample to detector plane along its normal
    ratio: torch.Tensor  #: beam . odet before two-theta (C ``ratio``)
    Fbeam: torch.Tensor
    Sbeam: torch.Tensor
    Fclose: torch.Tensor
    Sclose: torch.Tensor
    Xbeam: torch.Tensor  #: beam centre as reported (header BEAM_CENTER_X)
    Ybeam: torch.Tensor
    Xclose: torch.Tensor
    Yclose: torch.Tensor
    ORGX: torch.Tensor  #: XDS origin (pixels)
    ORGY: torch.Tensor
    dials_origin_mm: torch.Tensor  #: [3], DIALS origin (mm)
    detsize_f: torch.Tensor
    detsize_s: torch.Tensor

    @property
    def xds_incident_beam(self) -> torch.Tensor:
        """The beam direction in the detector frame (f, s, o components)."""
        return torch.stack((dot(self.beam, self.fdet), dot(self.beam, self.sdet), dot(self.beam, self.odet)))


def _vector(values, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def _detector_size(config: DetectorConfig, pixel_size: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Detector size along fast and slow (m): given directly or pixel_size * pixel count."""
    if config.detsize_f_mm is None:
        detsize_f = pixel_size * config.fpixels
    else:
        detsize_f = torch.full_like(pixel_size, mm_to_m(config.detsize_f_mm))
    if config.detsize_s_mm is None:
        detsize_s = pixel_size * config.spixels
    else:
        detsize_s = torch.full_like(pixel_size, mm_to_m(config.detsize_s_mm))
    return detsize_f, detsize_s


def _beam_centre_inputs(config, pixel_size, detsize_f, detsize_s, beam_x, beam_y):
    """The C convention block: (Fbeam, Sbeam, Fclose, Sclose, Xbeam, Ybeam, Xclose, Yclose) before rotation."""
    if config.orgx_given is not None:
        Fclose = (config.orgx_given - 0.5) * pixel_size
    else:
        Fclose = detsize_f / 2.0
    if config.orgy_given is not None:
        Sclose = (config.orgy_given - 0.5) * pixel_size
    else:
        Sclose = detsize_s / 2.0
    convention = config.convention
    if convention in (Convention.XDS, Convention.DIALS):
        Fclose, Sclose = beam_x, beam_y
    Xclose = Fclose if config.xclose_given_mm is None else torch.full_like(pixel_size, mm_to_m(config.xclose_given_mm))
    Yclose = Sclose if config.yclose_given_mm is None else torch.full_like(pixel_size, mm_to_m(config.yclose_given_mm))
    if convention == Convention.ADXV:
        Xbeam, Ybeam = beam_x, beam_y
        Fbeam, Sbeam = Xbeam, detsize_s - Ybeam
    elif convention == Convention.MOSFLM:
        Xbeam, Ybeam = beam_x, beam_y
        Fbeam, Sbeam = Ybeam + 0.5 * pixel_size, Xbeam + 0.5 * pixel_size
    elif convention == Convention.DENZO:
        Xbeam, Ybeam = beam_x, beam_y
        Fbeam, Sbeam = Ybeam + 0.0 * pixel_size, Xbeam + 0.0 * pixel_size
    elif convention in (Convention.XDS, Convention.DIALS):
        Xbeam = Xclose if config.xbeam_given_mm is None else torch.full_like(pixel_size, mm_to_m(config.xbeam_given_mm))
        Ybeam = Yclose if config.ybeam_given_mm is None else torch.full_like(pixel_size, mm_to_m(config.ybeam_given_mm))
        Fbeam, Sbeam = Xbeam, Ybeam
    else:
        Xbeam, Ybeam = beam_x, beam_y
        Fbeam, Sbeam = Xbeam, Ybeam
        Fclose, Sclose = Xbeam, Ybeam
    return Fbeam, Sbeam, Fclose, Sclose, Xbeam, Ybeam, Xclose, Yclose


def detector_geometry(config: DetectorConfig, params: Mapping[str, torch.Tensor]) -> DetectorGeometry:
    """Orient the detector as nanoBragg.c does.

    ``params`` holds scalar tensors in command-line units: ``pixel_size`` (mm),
    ``distance`` or ``close_distance`` (mm), ``beam_x``, ``beam_y`` (mm; see
    :class:`DetectorConfig` for their meaning per convention), ``detector_rotx``,
    ``detector_roty``, ``detector_rotz`` and ``twotheta`` (degrees).
    """
    pixel_size = mm_to_m(params["pixel_size"])
    like = pixel_size
    detsize_f, detsize_s = _detector_size(config, pixel_size)
    beam_x, beam_y = mm_to_m(params["beam_x"]), mm_to_m(params["beam_y"])
    Fbeam, Sbeam, Fclose, Sclose, Xbeam, Ybeam, Xclose, Yclose = _beam_centre_inputs(
        config, pixel_size, detsize_f, detsize_s, beam_x, beam_y
    )

    fdet = _vector(config.fdet_vector, like)
    sdet = _vector(config.sdet_vector, like)
    odet = _vector(config.odet_vector, like)
    beam = _vector(config.beam_vector, like)
    twotheta_axis = _vector(config.twotheta_axis, like)
    rotx, roty, rotz = (deg_to_rad(params[name]) for name in ("detector_rotx", "detector_roty", "detector_rotz"))
    twotheta = deg_to_rad(params["twotheta"])

    ratio = dot(beam, rotate_xyz(odet, rotx, roty, rotz))
    ratio = torch.where(ratio == 0.0, torch.full_like(ratio, DBL_MIN), ratio)
    if "close_distance" in params:
        close_distance = mm_to_m(params["close_distance"])
    else:
        close_distance = torch.abs(ratio * mm_to_m(params["distance"]))
    distance = close_distance / ratio

    if config.pivot == Pivot.SAMPLE:
        pix0 = -Fclose * fdet - Sclose * sdet + close_distance * odet
        pix0 = rotate_axis(rotate_xyz(pix0, rotx, roty, rotz), twotheta_axis, twotheta)
    fdet, sdet, odet = (
        rotate_axis(rotate_xyz(axis, rotx, roty, rotz), twotheta_axis, twotheta) for axis in (fdet, sdet, odet)
    )
    if config.pivot == Pivot.BEAM:
        pix0 = -Fbeam * fdet - Sbeam * sdet + distance * beam

    Fclose = -dot(pix0, fdet)
    Sclose = -dot(pix0, sdet)
    close_distance = dot(pix0, odet)
    beam_spot = close_distance / ratio * beam - pix0
    Fbeam = dot(fdet, beam_spot)
    Sbeam = dot(sdet, beam_spot)
    distance = close_distance / ratio

    dials_origin_mm = 1000.0 * torch.stack((pix0[2], pix0[1], -pix0[0]))
    return DetectorGeometry(
        pix0=pix0, fdet=fdet, sdet=sdet, odet=odet, beam=beam, pixel_size=pixel_size,
        distance=distance, close_distance=close_distance, ratio=ratio,
        Fbeam=Fbeam, Sbeam=Sbeam, Fclose=Fclose, Sclose=Sclose,
        Xbeam=Xbeam, Ybeam=Ybeam, Xclose=Xclose, Yclose=Yclose,
        ORGX=Fclose / pixel_size + 0.5, ORGY=Sclose / pixel_size + 0.5,
        dials_origin_mm=dials_origin_mm, detsize_f=detsize_f, detsize_s=detsize_s,
    )
