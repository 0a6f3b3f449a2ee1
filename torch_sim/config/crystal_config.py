"""Configuration of the crystal: cell, orientation, size, rotation, mosaicity, structure factors."""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from torch_sim.config.enums import CrystalShape
from torch_sim.rng.mosaic import MosaicDraws


@dataclass
class StepRule:
    """How a sampling step follows its range: ``step = range / divisor``, or a fixed value.

    A division (not a multiplication by the inverse) reproduces the C arithmetic exactly.
    """

    divisor: Optional[float] = None
    fixed: Optional[float] = None

    def step(self, range_value):
        """The step for a range (tensor or number), in the range's units."""
        return range_value / self.divisor if self.divisor is not None else range_value * 0 + self.fixed


@dataclass
class StructureFactorTable:
    """Dense structure-factor amplitudes on an h, k, l grid (C ``Fhkl``).

    ``amplitudes`` has shape [h_range, k_range, l_range] starting at ``hkl_min``;
    ``specified`` marks entries read from the file (others take ``default_F``).
    ``hkls`` is the C program's count (0 disables the table and interpolation).
    """

    amplitudes: np.ndarray
    specified: np.ndarray
    hkl_min: tuple[int, int, int]
    hkls: int

    @property
    def hkl_max(self) -> tuple[int, int, int]:
        return tuple(int(lo + n - 1) for lo, n in zip(self.hkl_min, self.amplitudes.shape))


@dataclass
class CrystalConfig:
    """Resolved crystal configuration; initial parameter values in command-line units (A, deg)."""

    cell_A_deg: tuple[float, float, float, float, float, float]
    #: True for ``-cell`` (the C forces the real-space lengths); False for a matrix file alone.
    user_cell: bool
    #: From ``-mat``: matrix taking default-frame reciprocal vectors to the file's (columns a*, b*, c*).
    orientation_matrix: Optional[np.ndarray]
    misset_deg: tuple[float, float, float]
    N_cells: tuple[float, float, float]
    shape: CrystalShape = CrystalShape.SQUARE
    fudge: float = 1.0
    phisteps: int = 1
    phi_start_deg: float = 0.0
    osc_range_deg: float = 0.0
    phistep_rule: StepRule = field(default_factory=lambda: StepRule(fixed=0.0))
    mosaic_domains: int = 1
    mosaic_spread_deg: float = 0.0
    mosaic_draws: Optional[MosaicDraws] = None
    structure_factors: Optional[StructureFactorTable] = None
    default_F: float = 0.0
    interpolate: bool = False
    #: "c": the first out-of-range interpolation switches it off for the rest of the image (C);
    #: "local": fall back to the nearest reflection only where interpolation is out of range.
    interpolation_fallback: str = "c"
    #: False reproduces the C program: a phi step of exactly 0 reuses the previous step's rotation.
    phi_zero_rotates: bool = False
    #: True rounds the mosaic rotation angle to float32 as the C does (the gradient passes
    #: straight through); False keeps it exact, e.g. for finite-difference gradient checks.
    mosaic_float32: bool = True
