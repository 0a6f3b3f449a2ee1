"""What a refinement returns: values, standard errors, correlations, history and convergence."""

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np


@dataclass
class StageReport:
    """One stage: its parameters, pixels, iterations, loss evaluations, final loss, and why it stopped."""

    name: str
    params: list
    pixels: int
    optimizer: str
    iterations: int
    evaluations: int
    loss: float
    converged: bool
    reason: str
    wall_time_s: float


@dataclass
class RefinementResult:
    """Refined values and standard errors (command-line units), correlation [k, k], loss per iteration.

    ``converged`` holds when the last stage (the joint optimum) met a
    convergence criterion. ``standard_errors`` are NaN where they could not be
    computed (see ``warnings``).
    """

    names: list
    start: dict
    values: dict
    standard_errors: dict
    correlation: np.ndarray
    covariance: np.ndarray
    loss_history: list
    converged: bool
    stages: list
    iterations: int
    evaluations: int
    wall_time_s: float
    peak_memory_mb: float
    uncertainty_method: str
    refined_pixels: int
    warnings: list = field(default_factory=list)
    run_folder: Optional[str] = None

    def table(self, truth: Optional[Mapping[str, float]] = None) -> str:
        """A text table: parameter, (truth,) start, refined +- standard error, (error / sigma)."""
        header = ["parameter"] + (["truth"] if truth else []) + ["start", "refined", "+- sigma"]
        header += ["(refined-truth)/sigma"] if truth else []
        rows = [header]
        for name in self.names:
            sigma = self.standard_errors.get(name, math.nan)
            row = [name] + ([f"{truth[name]:.6g}"] if truth else [])
            row += [f"{self.start[name]:.6g}", f"{self.values[name]:.6g}", f"{sigma:.2g}"]
            if truth:
                row.append(f"{(self.values[name] - truth[name]) / sigma:+.2f}" if sigma > 0 else "nan")
            rows.append(row)
        widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
        return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows)

    def as_json(self) -> dict:
        """The result as JSON-ready values (NaN written as null)."""
        clean = lambda x: None if isinstance(x, float) and not math.isfinite(x) else x
        matrix = lambda m: [[clean(float(x)) for x in row] for row in np.asarray(m)]
        return {
            "names": self.names, "start": self.start, "values": self.values,
            "standard_errors": {k: clean(float(v)) for k, v in self.standard_errors.items()},
            "correlation": matrix(self.correlation), "covariance": matrix(self.covariance),
            "uncertainty_method": self.uncertainty_method, "converged": self.converged,
            "iterations": self.iterations, "evaluations": self.evaluations,
            "loss_start": self.loss_history[0], "loss_final": self.loss_history[-1],
            "stages": [vars(stage) for stage in self.stages], "wall_time_s": self.wall_time_s,
            "peak_memory_mb": self.peak_memory_mb, "refined_pixels": self.refined_pixels, "warnings": self.warnings,
        }
