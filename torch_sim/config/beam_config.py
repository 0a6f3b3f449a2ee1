"""Configuration of the beam: wavelength, fluence, polarization, sources, background."""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from torch_sim.config.crystal_config import StepRule


@dataclass
class SourceFile:
    """Sources read with ``-sourcefile``: unit directions towards the sources [J, 3],
    wavelengths in Angstrom [J] (NaN: the beam wavelength), weights [J]."""

    directions: np.ndarray
    wavelengths_A: np.ndarray
    weights: np.ndarray
    #: The rows as the C prints them: X Y Z (m, before normalisation), weight, wavelength (m).
    printed_rows: np.ndarray


@dataclass
class DivergenceGrid:
    """The generated divergence x dispersion sources (C: hdiv, vdiv then wavelength loops)."""

    hdivsteps: int = 1
    vdivsteps: int = 1
    dispsteps: int = 1
    hdivstep_rule: StepRule = field(default_factory=lambda: StepRule(fixed=0.0))
    vdivstep_rule: StepRule = field(default_factory=lambda: StepRule(fixed=0.0))
    dispstep_rule: StepRule = field(default_factory=lambda: StepRule(fixed=0.0))
    #: Grid points kept by the elliptical trimming, [hdivsteps, vdivsteps] booleans.
    kept: Optional[np.ndarray] = None


@dataclass
class BeamConfig:
    """Resolved beam configuration; initial parameter values in command-line units."""

    wavelength_A: float
    fluence: float
    polarization: float = 0.0
    nopolar: bool = False
    hdivrange_mrad: float = 0.0
    vdivrange_mrad: float = 0.0
    dispersion_percent: float = 0.0
    grid: DivergenceGrid = field(default_factory=DivergenceGrid)
    source_file: Optional[SourceFile] = None
    #: The C program ignores source weights (every source counts 1/steps); True uses them.
    use_source_weights: bool = False
    dmin_A: float = 0.0
    water_size_um: float = 0.0

    @property
    def n_sources(self) -> int:
        if self.source_file is not None:
            return len(self.source_file.directions)
        return int(self.grid.kept.sum()) * self.grid.dispsteps
