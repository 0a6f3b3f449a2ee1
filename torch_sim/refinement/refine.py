"""``refine()``: fit a model's parameters to an observed image, stage by stage, with standard errors."""

import math
import resource
import shlex
import time
import warnings
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch
from tqdm import tqdm

from torch_sim.api import from_nanobragg_args
from torch_sim.errors import InputError
from torch_sim.modules.simulator import Simulator
from torch_sim.refinement.export_args import export_mismatches, export_nanobragg_args, write_mosflm_matrix
from torch_sim.refinement.optimizers import OPTIMIZERS, Convergence, minimize
from torch_sim.refinement.parameterization import default_scale, effective_bounds
from torch_sim.refinement.pixel_selection import reciprocal_distance
from torch_sim.refinement.preconditioning import stage_preconditioner
from torch_sim.refinement.plots import write_image_comparison, write_loss_trace, write_parameter_traces
from torch_sim.refinement.problem import LOSS_PARAMETERS, RefinementProblem, build_problem
from torch_sim.refinement.result import RefinementResult, StageReport
from torch_sim.refinement.run_folder import RunFolder, check_run_folder, environment
from torch_sim.refinement.stages import Stage, resolve_stages, stages_as_json
from torch_sim.refinement.uncertainty import (
    METHODS,
    Uncertainty,
    covariance_from_information,
    fisher_information,
    forward_jacobian,
    loss_hessian,
)


def refine(model: Simulator, observed, params: Sequence[str], loss: str = "poisson", mask=None, weights=None,
           bounds: Optional[Mapping] = None, restraints: Optional[Mapping] = None,
           stages: Union[str, Sequence, None] = None, optimizer: str = "lbfgs", max_iterations: int = 100,
           run_folder: Optional[str] = None, progress: bool = True, seed: int = 0, adc_offset: float = 0.0,
           background=0.0, scales: Optional[Mapping] = None, uncertainty: str = "fisher",
           convergence: Optional[Convergence] = None, base_argv: Optional[Sequence[str]] = None,
           learning_rate: float = 0.1, precondition: bool = True) -> RefinementResult:
    """Refine ``params`` of ``model`` against ``observed`` [slow, fast] and leave the model at the refined values.

    - ``loss``: ``"poisson"`` (negative log-likelihood of photon counts) or ``"least_squares"``;
      ``adc_offset`` is subtracted from ``observed``; ``background`` (photons/pixel, a number or an
      image) is added to the model; refine ``"background"`` (a number) or ``"background_scale"``
      (an image) by naming it in ``params``.
    - ``mask`` (nonzero: use the pixel) and ``weights`` [slow, fast] select and weight pixels; only
      the pixels used are rendered.
    - ``bounds``: ``{name: (min, max)}`` (None for an open side); ``restraints``:
      ``{name: (centre, width)}``; ``scales``: ``{name: typical step}`` (command-line units).
    - ``stages``: None or ``"default"`` (the default stages), ``"none"`` (one stage), a JSON file or a
      list of :class:`Stage`/dicts
      (see :mod:`torch_sim.refinement.stages`); ``optimizer`` ``"lbfgs"`` or ``"adam"`` and
      ``max_iterations`` per stage unless the stage says otherwise.
    - ``precondition``: whiten each stage's variables with its Fisher information first
      (see :mod:`torch_sim.refinement.preconditioning`); ``convergence``: stopping rules.
    - ``uncertainty``: ``"fisher"``, ``"hessian"`` or ``"none"`` (see :mod:`torch_sim.refinement.uncertainty`).
    - ``run_folder``: write the run's folder (see :mod:`torch_sim.refinement.run_folder`);
      ``base_argv``, the model's nanoBragg command line, lets it write ``final_args.txt``.

    Every input is checked before any work: a bad one raises InputError (one line) and writes nothing.
    """
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, int) or max_iterations < 1:
        raise InputError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    if uncertainty not in METHODS + ("none",):
        raise InputError(f"uncertainty must be one of {', '.join(METHODS + ('none',))}, got {uncertainty!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise InputError(f"learning rate must be positive, got {learning_rate!r}")
    problem = build_problem(model, observed, params, loss, mask, weights, bounds, restraints, adc_offset,
                            background, scales)
    stage_list = resolve_stages(stages, problem.names)
    if run_folder is not None:
        check_run_folder(run_folder)
    settings = {
        "params": problem.names, "loss": loss, "adc_offset": float(adc_offset),
        "background": float(background) if problem.background.dim() == 0 else "image",
        "mask": mask is not None, "weights": weights is not None, "refined_pixels": int(problem.active.numel()),
        "bounds": problem.bounds, "restraints": dict(zip(problem.restraints.names, problem.restraints.centres.tolist())),
        "restraint_widths": dict(zip(problem.restraints.names, problem.restraints.widths.tolist())),
        "scales": {name: problem.scales.get(name, default_scale(name, float(problem.start[k])))
                   for k, name in enumerate(problem.names)},
        "stages": stages_as_json(stage_list), "optimizer": optimizer, "max_iterations": max_iterations,
        "convergence": vars(convergence or Convergence(max_iterations=max_iterations)),
        "uncertainty": uncertainty, "learning_rate": learning_rate, "precondition": precondition, "seed": seed,
    }
    torch.manual_seed(seed)
    folder = RunFolder(run_folder) if run_folder is not None else None
    try:
        if folder is not None:
            folder.write_json("config.json", {"refinement": settings, "nanobragg_args": base_argv,
                                              "model": model.config})
            folder.write_json("environment.json", environment(problem.active.device, model.dtype, seed))
        result, records = _run(problem, stage_list, optimizer, max_iterations, convergence, learning_rate,
                               precondition, uncertainty, progress, folder)
        if folder is not None:
            _write_outputs(folder, problem, result, records, base_argv)
            result.run_folder = folder.finish()
        return result
    except BaseException as error:
        if folder is not None:
            folder.fail(f"{type(error).__name__}: {error}")
        raise


class _History:
    """The iteration records of a run: kept for the pictures, streamed to metrics.jsonl, shown on the progress bar."""

    def __init__(self, names: list, folder: Optional[RunFolder], bar):
        self.names, self.folder, self.bar = names, folder, bar
        self.began = time.perf_counter()
        self.records: list = []

    def add(self, stage: str, iteration: int, loss: float, gradient_norm, values: torch.Tensor) -> None:
        record = {"step": len(self.records), "stage": stage, "iteration": iteration, "loss": loss,
                  "values": dict(zip(self.names, values.tolist())), "gradient_norm": gradient_norm,
                  "wall_time_s": time.perf_counter() - self.began}
        self.records.append(record)
        if self.folder is not None:
            self.folder.log_iteration(record)
        if iteration > 0:
            self.bar.update(1)
            self.bar.set_postfix(stage=stage, loss=f"{loss:.6g}")


def _run_stage(problem: RefinementProblem, stage: Stage, values: torch.Tensor, optimizer: str,
               convergence: Convergence, learning_rate: float, precondition: bool,
               history: _History) -> tuple[torch.Tensor, StageReport]:
    """Optimize the stage's parameters from ``values`` [K]; returns the new values and the stage's report."""
    began = time.perf_counter()
    names = problem.names
    if stage.resolution is not None:
        resolution = reciprocal_distance(problem.model).reshape(-1)
        inner = resolution[problem.active] <= stage.resolution * resolution.max()
        if int(inner.sum()) > len(stage.params):
            problem = problem.subset(inner)
    parameterization = problem.parameterization(stage.params, values)
    index = torch.tensor([names.index(name) for name in stage.params], device=values.device)
    transform = _stage_transform(problem, values, index, parameterization) if precondition else None

    def full(w: torch.Tensor) -> torch.Tensor:
        u = w if transform is None else transform @ w
        return values.index_put((index,), parameterization.to_user(u))

    def callback(iteration: int, loss: float, gradient_norm: float, w: torch.Tensor) -> None:
        history.add(stage.name, iteration, loss, gradient_norm, full(w))

    outcome = minimize(lambda w: problem.total_loss(full(w)), torch.zeros_like(index, dtype=values.dtype),
                       optimizer, convergence, callback, learning_rate)
    with torch.no_grad():
        refined = full(outcome.u)
    return refined, StageReport(stage.name, list(stage.params), int(problem.active.numel()), optimizer,
                                outcome.iterations, outcome.evaluations, outcome.loss, outcome.converged,
                                outcome.reason, time.perf_counter() - began)


def _run(problem: RefinementProblem, stages: Sequence[Stage], optimizer: str, max_iterations: int,
         convergence: Optional[Convergence], learning_rate: float, precondition: bool, uncertainty: str,
         progress: bool, folder: Optional[RunFolder]) -> tuple[RefinementResult, list]:
    """Run the stages, write the model's refined values, compute uncertainties; returns (result, metric records)."""
    names = problem.names
    values = problem.start.clone()
    reports = []
    budget = sum(stage.max_iterations or max_iterations for stage in stages)
    with tqdm(total=budget, disable=not progress, desc="refine", unit="it", leave=False) as bar:
        history = _History(names, folder, bar)
        with torch.no_grad():
            history.add("start", 0, float(problem.total_loss(values)), None, values)
        for stage in stages:
            stage_convergence = Convergence(**vars(convergence or Convergence()))
            stage_convergence.max_iterations = stage.max_iterations or max_iterations
            if stage.relative_loss_change is not None:
                stage_convergence.relative_loss_change = stage.relative_loss_change
            values, report = _run_stage(problem, stage, values, stage.optimizer or optimizer, stage_convergence,
                                        learning_rate, precondition, history)
            reports.append(report)
    with torch.no_grad():
        for k, name in enumerate(names):
            if name not in LOSS_PARAMETERS:
                problem.model.params[name].copy_(values[k])
    errors = _uncertainty(problem, values, uncertainty)
    messages = list(errors.warnings) + _bound_warnings(problem, values)
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    result = RefinementResult(
        names=names, start=dict(zip(names, problem.start.tolist())), values=dict(zip(names, values.tolist())),
        standard_errors=dict(zip(names, errors.standard_errors.tolist())), correlation=errors.correlation,
        covariance=errors.covariance, loss_history=[r["loss"] for r in history.records],
        converged=reports[-1].converged, stages=reports, iterations=sum(r.iterations for r in reports),
        evaluations=sum(r.evaluations for r in reports), wall_time_s=time.perf_counter() - history.began,
        peak_memory_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        uncertainty_method=uncertainty, refined_pixels=int(problem.active.numel()),
        warnings=messages,
    )
    return result, history.records


def _stage_transform(problem: RefinementProblem, values: torch.Tensor, index: torch.Tensor,
                     parameterization) -> torch.Tensor:
    """The stage's Fisher preconditioner C (u = C w), see preconditioning.py."""
    mean_counts = lambda stage_values: problem.mean_counts(values.index_put((index,), stage_values))
    restraint = problem.restraints.hessian_diagonal(len(problem.names))[index]
    slopes = parameterization.slopes(values.dtype, values.device)
    return stage_preconditioner(mean_counts, problem.information_weights(values), values[index], slopes, restraint)


def _uncertainty(problem: RefinementProblem, values: torch.Tensor, method: str) -> Uncertainty:
    """Covariance of the refined values from the Fisher information or the exact Hessian (see uncertainty.py)."""
    k = len(problem.names)
    if method == "none":
        nan = np.full((k, k), math.nan)
        return Uncertainty(problem.names, nan, np.full(k, math.nan), nan, method, False)
    noise_variance = 1.0
    if problem.loss_name == "least_squares":
        with torch.no_grad():
            degrees = max(problem.active.numel() - k, 1)
            noise_variance = max(2.0 * float(problem.data_loss(values)) / degrees, 1e-300)
    if method == "fisher":
        jacobian = forward_jacobian(problem.mean_counts, values)
        information = fisher_information(jacobian, problem.information_weights(values) / noise_variance)
    else:
        information = loss_hessian(problem.data_loss, values) / noise_variance
    information = information + torch.diag(problem.restraints.hessian_diagonal(k))
    return covariance_from_information(information, problem.names, method)


def _bound_warnings(problem: RefinementProblem, values: torch.Tensor) -> list:
    messages = []
    for index, name in enumerate(problem.names):
        lower, upper = effective_bounds(name, problem.bounds.get(name))
        if not (math.isfinite(lower) or math.isfinite(upper)):
            continue
        value = float(values[index])
        width = (upper - lower) if math.isfinite(upper - lower) else max(abs(value), 1.0)
        if min(value - lower, upper - value) < 1e-6 * width:
            messages.append(f"{name} = {value:.6g} is at its bound: its standard error is not meaningful")
    return messages


def _final_args(folder: RunFolder, problem: RefinementProblem, base_argv: Optional[Sequence[str]]) -> dict:
    """Write final_args.txt (and refined.mat) when the starting command is known; returns the export report."""
    if base_argv is None:
        return {"final_args": None, "notes": ["no starting nanoBragg command given (base_argv): final_args.txt not written"]}
    model = problem.model
    final_matrix = f"{folder.path}/refined.mat"
    exported = export_nanobragg_args(model, base_argv, final_matrix,
                                     start_model=_start_model(base_argv, model))
    checked_argv = list(exported.argv)
    if exported.matrix is not None:
        cell = [float(model.params[name]) for name in ("cell_a", "cell_b", "cell_c", "cell_alpha", "cell_beta", "cell_gamma")]
        write_mosflm_matrix(folder.file("refined.mat"), exported.matrix, cell)
        checked_argv = [folder.file("refined.mat") if token == final_matrix else token for token in checked_argv]
    folder.write_text("final_args.txt", shlex.join(exported.argv) + "\n")
    return {"final_args": exported.argv, "notes": exported.notes,
            "mismatches": export_mismatches(model, checked_argv)}


def _start_model(base_argv: Sequence[str], model: Simulator) -> Simulator:
    return from_nanobragg_args(list(base_argv), dtype=model.dtype)


def _write_outputs(folder: RunFolder, problem: RefinementProblem, result: RefinementResult, records: list,
                   base_argv: Optional[Sequence[str]]) -> None:
    """result.json, summary.txt, final_args.txt and the pictures (into the temporary folder)."""
    export = _final_args(folder, problem, base_argv)
    result.warnings += [f"exported command differs from the refined model: {m}" for m in export.get("mismatches", [])]
    folder.write_json("result.json", {**result.as_json(), "export": export})
    lines = [result.table(), "", f"converged: {result.converged}; iterations {result.iterations}, loss evaluations "
             f"{result.evaluations}, {result.wall_time_s:.1f} s, peak memory {result.peak_memory_mb:.0f} MB"]
    lines += [f"stage {s.name}: {s.iterations} iterations, loss {s.loss:.8g}, {s.reason}" for s in result.stages]
    lines += [f"note: {note}" for note in export["notes"]] + [f"warning: {w}" for w in result.warnings]
    folder.write_text("summary.txt", "\n".join(lines) + "\n")
    with torch.no_grad():
        simulated = problem.model().to(torch.float64).cpu().numpy()
    background = problem.background_image.to(torch.float64).cpu().numpy()
    values = result.values
    if "background" in values:
        background = np.full_like(background, values["background"])
    background = background * values.get("background_scale", 1.0)
    counts = np.clip(problem.observed_image.to(torch.float64).cpu().numpy() - problem.adc_offset, 0.0, None)
    used = np.zeros(counts.size, dtype=bool)
    used[problem.active.cpu().numpy()] = True
    write_image_comparison(folder.file("images.png"), counts, simulated + background, used.reshape(counts.shape),
                           f"loss {result.loss_history[-1]:.6g} over {result.refined_pixels} pixels")
    write_loss_trace(folder.file("loss.png"), records)
    write_parameter_traces(folder.file("parameters.png"), records, result.names,
                           {k: v for k, v in result.standard_errors.items()})
