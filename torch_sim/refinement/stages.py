"""Staged refinement: which parameters each pass refines, with which optimizer and how long.

Practitioners refine in stages so that the parameters that move spots the most
converge before the ones that shape them: the default is

1. ``orientation_beam``: misset_x, misset_y, misset_z, beam_x, beam_y, on the
   pixels within the inner third of the detector's resolution range (1/d);
2. ``cell_distance``: cell lengths and angles, distance (or close_distance), on
   the inner two thirds;
3. ``mosaic_size``: mosaic_spread, N_a, N_b, N_c, on every pixel;
4. ``joint``: every refined parameter together on every pixel (the optimum whose
   standard errors are reported).

Low resolution first: a cell off by a fraction f moves a spot at resolution d
by f/d in reciprocal space, so near the beam the spots of a wrong starting
cell still overlap the observed ones and orientation and beam centre can be
found before the cell. The first three stages only bring the parameters near
the optimum, so they stop early (at most 10 iterations, or a relative loss
change below 1e-4); the joint stage converges fully. Each stage refines the parameters it lists that are also refined (the
``params`` of :func:`torch_sim.refinement.refine`); names absent from the model or
not refined are skipped, and a stage left empty is dropped. A stage file is JSON:
a list of ``{"name": ..., "params": [...] or "all", "optimizer": "lbfgs"|"adam",
"max_iterations": N, "relative_loss_change": X, "resolution": R}`` (all but
``params`` optional; ``resolution`` in (0, 1]: use the pixels whose 1/d is at
most R times the largest on the detector).
"""

import json
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence, Union

from torch_sim.errors import InputError
from torch_sim.refinement.optimizers import OPTIMIZERS

#: Every refined parameter (in a stage's ``params``).
ALL = "all"


@dataclass
class Stage:
    """One pass: ``params`` (names or ``"all"``); ``optimizer``, ``max_iterations`` and
    ``relative_loss_change`` override the run's settings (None: the run's); ``resolution``
    limits the pixels to low resolution."""

    name: str
    params: Union[str, list] = ALL
    optimizer: Optional[str] = None
    max_iterations: Optional[int] = None
    relative_loss_change: Optional[float] = None
    #: Use only pixels with 1/d <= resolution * (largest 1/d on the detector); None: every pixel.
    resolution: Optional[float] = None
    #: Names listed but not refined in this run (filled by :func:`resolve_stages`).
    skipped: list = field(default_factory=list)


DEFAULT_STAGES = (
    Stage("orientation_beam", ["misset_x", "misset_y", "misset_z", "beam_x", "beam_y"], max_iterations=10,
          relative_loss_change=1e-4, resolution=1 / 3),
    Stage("cell_distance", ["cell_a", "cell_b", "cell_c", "cell_alpha", "cell_beta", "cell_gamma", "distance",
                            "close_distance"], max_iterations=10, relative_loss_change=1e-4, resolution=2 / 3),
    Stage("mosaic_size", ["mosaic_spread", "N_a", "N_b", "N_c"], max_iterations=10, relative_loss_change=1e-4),
    Stage("joint", ALL),
)


def _check_stage(entry, where: str) -> Stage:
    if not isinstance(entry, dict) or "params" not in entry:
        raise InputError(f"{where}: each stage must be an object with \"params\"")
    unknown = set(entry) - {"name", "params", "optimizer", "max_iterations", "relative_loss_change", "resolution"}
    if unknown:
        raise InputError(f"{where}: unknown stage key(s) {', '.join(sorted(unknown))}")
    params = entry["params"]
    if params != ALL and not (isinstance(params, list) and all(isinstance(p, str) for p in params)):
        raise InputError(f"{where}: \"params\" must be a list of names or \"all\"")
    optimizer = entry.get("optimizer")
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise InputError(f"{where}: optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    iterations = entry.get("max_iterations")
    if iterations is not None and not (isinstance(iterations, int) and iterations >= 1):
        raise InputError(f"{where}: max_iterations must be a positive integer, got {iterations!r}")
    tolerance = entry.get("relative_loss_change")
    if tolerance is not None and not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise InputError(f"{where}: relative_loss_change must be a number >= 0, got {tolerance!r}")
    resolution = entry.get("resolution")
    if resolution is not None and not (isinstance(resolution, (int, float)) and 0 < resolution <= 1):
        raise InputError(f"{where}: resolution must be in (0, 1], got {resolution!r}")
    return Stage(str(entry.get("name", where)), params, optimizer, iterations, tolerance, resolution)


def load_stages(path: str) -> list[Stage]:
    """Stages from a JSON file (see the module docstring); InputError if unreadable or malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)
    except OSError as error:
        raise InputError(f"cannot read stage file {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path}: expected a non-empty JSON list of stages")
    return [_check_stage(entry, f"{path} stage {k + 1}") for k, entry in enumerate(entries)]


def resolve_stages(stages: Union[None, str, Sequence], refined: Sequence[str]) -> list[Stage]:
    """The stages of a run restricted to the refined parameters.

    ``stages``: None or ``"default"`` (:data:`DEFAULT_STAGES`), ``"none"`` (one
    stage refining everything), a path to a JSON stage file, or a sequence of
    :class:`Stage` or dicts. InputError if a refined parameter is in no stage.
    """
    if stages is None or stages == "default":
        stages = DEFAULT_STAGES
    elif stages == "none":
        stages = [Stage("all", ALL)]
    elif isinstance(stages, str):
        stages = load_stages(stages)
    resolved = []
    for k, stage in enumerate(stages):
        entry = {key: value for key, value in asdict(stage).items() if key != "skipped"} if isinstance(stage, Stage) else stage
        stage = _check_stage(entry, f"stage {k + 1}")
        listed = list(refined) if stage.params == ALL else list(stage.params)
        kept = [name for name in refined if name in listed]
        if kept:
            resolved.append(Stage(stage.name, kept, stage.optimizer, stage.max_iterations,
                                  stage.relative_loss_change, stage.resolution,
                                  [name for name in listed if name not in refined]))
    staged = {name for stage in resolved for name in stage.params}
    missing = [name for name in refined if name not in staged]
    if missing:
        raise InputError(f"no stage refines {', '.join(missing)}: add it to a stage or use \"all\"")
    return resolved


def stages_as_json(stages: Sequence[Stage]) -> list[dict]:
    """The resolved stages as JSON-ready dicts."""
    return [asdict(stage) for stage in stages]
