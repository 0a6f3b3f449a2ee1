"""Enumerations that select nanoBragg.c's discrete behaviours."""

from enum import Enum


class Convention(Enum):
    """Detector/beam axis convention (``-mosflm``, ``-xds``, ... or custom vectors)."""

    CUSTOM = "custom"
    ADXV = "adxv"
    MOSFLM = "mosflm"
    XDS = "xds"
    DIALS = "dials"
    DENZO = "denzo"


class Pivot(Enum):
    """What stays fixed when the detector rotates: the sample-detector normal or the beam spot."""

    SAMPLE = "sample"
    BEAM = "beam"


class CrystalShape(Enum):
    """Lattice shape transform: parallelepiped (sincg), ellipsoid (sinc3), Gaussian, top-hat."""

    SQUARE = "square"
    ROUND = "round"
    GAUSS = "gauss"
    TOPHAT = "tophat"
