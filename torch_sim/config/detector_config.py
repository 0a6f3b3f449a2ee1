"""Configuration of the detector: integers, flags, axes and initial parameter values."""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from torch_sim.config.enums import Convention, Pivot

Vector3 = tuple[float, float, float]


@dataclass
class DetectorConfig:
    """Resolved detector configuration (nanoBragg.c's values after its defaults logic).

    Initial values of refinable parameters are in command-line units (mm, degrees,
    micrometres). The beam-centre pair ``beam_x_mm``/``beam_y_mm`` holds the C
    program's ``Xbeam``/``Ybeam`` for the ADXV, MOSFLM, DENZO and CUSTOM
    conventions, and the near point ``Fclose``/``Sclose`` (mm) for XDS and DIALS,
    where the sample pivot makes the image depend on that point only.
    """

    convention: Convention
    pivot: Pivot
    fpixels: int
    spixels: int
    pixel_size_mm: float
    #: Exactly one of these two is set: the refinable detector distance (mm).
    distance_mm: Optional[float]
    close_distance_mm: Optional[float]
    beam_x_mm: float
    beam_y_mm: float
    rotx_deg: float = 0.0
    roty_deg: float = 0.0
    rotz_deg: float = 0.0
    twotheta_deg: float = 0.0
    #: Detector size (mm) when it was given directly; None: pixel_size * pixel count.
    detsize_f_mm: Optional[float] = None
    detsize_s_mm: Optional[float] = None
    #: Unit axes after the convention block (lab frame).
    fdet_vector: Vector3 = (0.0, 0.0, 1.0)
    sdet_vector: Vector3 = (0.0, -1.0, 0.0)
    odet_vector: Vector3 = (1.0, 0.0, 0.0)
    beam_vector: Vector3 = (1.0, 0.0, 0.0)
    polar_vector: Vector3 = (0.0, 0.0, 1.0)
    spindle_vector: Vector3 = (0.0, 0.0, 1.0)
    twotheta_axis: Vector3 = (0.0, 0.0, -1.0)
    #: Values given on the command line (or header) that are only reported.
    xbeam_given_mm: Optional[float] = None
    ybeam_given_mm: Optional[float] = None
    xclose_given_mm: Optional[float] = None
    yclose_given_mm: Optional[float] = None
    orgx_given: Optional[float] = None
    orgy_given: Optional[float] = None
    curved: bool = False
    point_pixel: bool = False
    #: Sensor thickness (um), attenuation depth (um; None: the thickness; inf: mu = 0) and layers.
    thickness_um: float = 0.0
    abs_depth_um: Optional[float] = None
    thicksteps: int = 1
    #: Layer spacing = thickness / thickstep_divisor (the C derives it from the layer count).
    thickstep_divisor: int = 1
    oversample: int = 1
    oversample_omega: bool = False
    oversample_polar: bool = False
    oversample_thick: bool = False
    #: Rendered region, inclusive: (fast_min, fast_max, slow_min, slow_max).
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)
    #: Pixels whose mask value is 0 are not rendered; [spixels, fpixels] or None.
    mask: Optional[np.ndarray] = None

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (slow, fast)."""
        return (self.spixels, self.fpixels)
