"""What the refinement examples share: options, a noisy synthetic truth, a perturbed start, the report.

Each example script (``refine_*.py``) only says which crystal and detector to
render, which parameters to move and how, and in which stages to refine them.
"""

import argparse
import shutil
from typing import Mapping, Sequence

import torch

import torch_sim
from torch_sim.refinement import refine
from torch_sim.refinement.pixel_selection import spot_mask
from torch_sim.refinement.synthetic import poisson_observation


def example_options(description: str, default_out: str) -> argparse.Namespace:
    """``--out`` (the run folder, replaced if it exists), ``--seed`` and ``--no-compile``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=default_out, help="run folder (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the Poisson noise and of the perturbation")
    parser.add_argument("--no-compile", action="store_true", help="do not torch.compile the pixel kernel")
    return parser.parse_args()


def refine_synthetic(options: argparse.Namespace, args: Sequence[str], start: Mapping[str, float], stages,
                     background: float, margin_px: int = 4, **refine_options) -> None:
    """Render ``args`` with Poisson noise (plus ``background`` photons/pixel), move the parameters to
    ``start``, refine them over the pixels near spots, and print truth, start and refined values."""
    build = lambda: torch_sim.from_nanobragg_args(args, compile=not options.no_compile, memory_budget_mb=64)
    truth = build()
    truth_values = {name: float(truth.params[name]) for name in start}
    with torch.no_grad():
        observed = poisson_observation(truth(), options.seed, background)
    model = build()
    with torch.no_grad():
        for name, value in start.items():
            model.params[name].fill_(value)
        mask = spot_mask([observed - background, model()], threshold=0.3, margin_px=margin_px)
    shutil.rmtree(options.out, ignore_errors=True)
    result = refine(model, observed, list(start), mask=mask, background=background, stages=stages,
                    max_iterations=60, run_folder=options.out, base_argv=list(args), seed=options.seed,
                    **refine_options)
    print(result.table(truth_values))
    print(f"converged: {result.converged}; {result.iterations} iterations in {result.wall_time_s:.0f} s over "
          f"{result.refined_pixels} pixels; run folder {result.run_folder} (final_args.txt: the refined command)")
