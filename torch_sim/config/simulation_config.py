"""The complete resolved configuration of one simulation."""

from dataclasses import dataclass, field
from typing import Optional

from torch_sim.config.beam_config import BeamConfig
from torch_sim.config.crystal_config import CrystalConfig
from torch_sim.config.detector_config import DetectorConfig
from torch_sim.rng import CRandom


@dataclass
class SimulationConfig:
    """Detector, crystal and beam configuration plus what the C program reports while resolving it."""

    detector: DetectorConfig
    crystal: CrystalConfig
    beam: BeamConfig
    #: Notes and warnings the C program prints while resolving, as (stage, text) in order;
    #: the stage says where the C prints it (parse, steps, interpolation, cell, oversample, hkl).
    messages: list = field(default_factory=list)
    #: ``-misset random`` angles in degrees (printed by the C), if drawn.
    random_misset_deg: Optional[tuple] = None
    #: The C generator's shared state after the misset and mosaic draws (the noise continues it).
    random_state: Optional[CRandom] = None

    @property
    def steps(self) -> int:
        """The C normalisation: sources x mosaic domains x phi steps x oversample^2."""
        return (
            self.beam.n_sources * self.crystal.mosaic_domains * self.crystal.phisteps * self.detector.oversample**2
        )
