"""Refinement benchmark: recovery of cell, orientation, detector and mosaicity from perturbed starts.

Part 1 (synthetic): a triclinic crystal (cell 70 80 90 75 85 95, Wilson-like
structure factors to 2.5 A, N = 10, 0.2 deg mosaic spread in 10 domains) on a
512x512 detector (0.1 mm pixels, 100 mm), fluence 1e30 photons/m^2 (strongest
spots ~1e4 photons) plus 1 photon/pixel background, Poisson noise. For each
seed the start is perturbed by: cell lengths +-1%, angles +-0.5 deg, misset
+-0.3 deg per axis, distance +-2 mm, beam centre +-0.3 mm, mosaic spread x2 or
/2, N_a, N_b, N_c +-1 (random signs), then refined with the default stages.

Part 2 (C program): the golden image of case realistic_1024 (nanoBragg.c's own
float image, lysozyme-like cell, 1024x1024) with Poisson noise, refined on its
central 512x512 region from perturbed arguments; the C's own arguments are the
truth.

Targets: cell lengths within 0.05%, angles within 0.02 deg, misset within
0.01 deg, distance within 0.05 mm, beam centre within 0.01 mm, mosaic spread
within 10%; |refined - truth| <= 3 sigma on at least 9 of 10 seeds.
Prints tables and writes JSON (--json).

    python scripts/refinement_benchmark.py --seeds 10 --json benchmark.json     # full run (about 8 min on one core)
    python scripts/refinement_benchmark.py --seeds 2 --size 256                 # reduced run
"""

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import torch_sim
from torch_sim.refinement import refine
from torch_sim.refinement.pixel_selection import spot_mask
from torch_sim.refinement.synthetic import perturbed, poisson_observation, write_wilson_hkl

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden_data" / "nanobragg_c"
CELL = (70.0, 80.0, 90.0, 75.0, 85.0, 95.0)
PARAMS = ["cell_a", "cell_b", "cell_c", "cell_alpha", "cell_beta", "cell_gamma", "misset_x", "misset_y", "misset_z",
          "distance", "beam_x", "beam_y", "mosaic_spread", "N_a", "N_b", "N_c"]
CHANGES = {**{n: ("relative", 0.01) for n in ("cell_a", "cell_b", "cell_c")},
           **{n: ("add", 0.5) for n in ("cell_alpha", "cell_beta", "cell_gamma")},
           **{n: ("add", 0.3) for n in ("misset_x", "misset_y", "misset_z")},
           "distance": ("add", 2.0), "beam_x": ("add", 0.3), "beam_y": ("add", 0.3),
           "mosaic_spread": ("scale", 2.0), **{n: ("add", 1.0) for n in ("N_a", "N_b", "N_c")}}
#: name -> (tolerance, relative?) of the targets.
TARGETS = {**{n: (5e-4, True) for n in ("cell_a", "cell_b", "cell_c")},
           **{n: (0.02, False) for n in ("cell_alpha", "cell_beta", "cell_gamma")},
           **{n: (0.01, False) for n in ("misset_x", "misset_y", "misset_z")},
           "distance": (0.05, False), "beam_x": (0.01, False), "beam_y": (0.01, False),
           "mosaic_spread": (0.10, True)}
BACKGROUND = 1.0


def synthetic_args(folder: Path, size: int, domains: int) -> list:
    write_wilson_hkl(folder / "bench.hkl", CELL, resolution_A=2.5, seed=11)
    return ["-cell", *map(str, CELL), "-misset", "10", "20", "30", "-hkl", str(folder / "bench.hkl"),
            "-N", "10", "-lambda", "1.0", "-distance", "100", "-detpixels", str(size), "-pixel", str(51.2 / size),
            "-oversample", "1", "-mosaic", "0.2", "-mosaic_domains", str(domains), "-fluence", "4e27"]


def within_target(name: str, error: float, truth: float) -> bool:
    tolerance, relative = TARGETS.get(name, (math.inf, False))
    return abs(error) <= tolerance * (abs(truth) if relative else 1.0)


def build(args, options):
    """The model of ``args`` with the run's compilation and chunk budget."""
    return torch_sim.from_nanobragg_args(args, compile=not options.no_compile, memory_budget_mb=options.memory_mb)


def refine_once(truth_args, truth_values, observed, start_values, options, background, label):
    """Refine from ``start_values``; a dict of per-parameter outcomes and run figures."""
    model = build(truth_args, options)
    with torch.no_grad():
        for name, value in start_values.items():
            model.params[name].fill_(value)
        start_image = model()
    mask = None
    if options.spot_margin >= 0:
        mask = spot_mask([observed - background, start_image], 0.0, threshold=0.5, margin_px=options.spot_margin)
    params = [name for name in PARAMS if name in model.params]
    began = time.perf_counter()
    run_folder = None
    if options.run_folders:
        run_folder = os.path.join(options.run_folders, label.replace(" ", "_").replace("(", "").replace(")", ""))
    result = refine(model, observed, params, mask=mask, background=background, stages=options.stages,
                    max_iterations=options.max_iterations, progress=options.progress, seed=0, run_folder=run_folder,
                    base_argv=truth_args if run_folder else None)
    wall = time.perf_counter() - began
    rows = {}
    for name in params:
        error = result.values[name] - truth_values[name]
        sigma = result.standard_errors[name]
        rows[name] = {"truth": truth_values[name], "start": start_values[name], "refined": result.values[name],
                      "sigma": sigma, "error": error, "within_target": within_target(name, error, truth_values[name]),
                      "within_3_sigma": bool(abs(error) <= 3 * sigma) if sigma == sigma else False}
    print(f"\n{label}: {result.iterations} iterations, {result.evaluations} evaluations, {wall:.0f} s, "
          f"{result.refined_pixels} pixels, converged {result.converged}", file=sys.stderr)
    print(result.table(truth_values), file=sys.stderr)
    return {"label": label, "iterations": result.iterations, "evaluations": result.evaluations, "wall_time_s": wall,
            "refined_pixels": result.refined_pixels, "converged": result.converged, "parameters": rows,
            "stages": [vars(s) for s in result.stages], "warnings": result.warnings}


def synthetic_runs(options, folder: Path, save) -> list:
    args = synthetic_args(folder, options.size, options.domains)
    truth = build(args, options)
    truth_values = {name: float(truth.params[name]) for name in PARAMS}
    with torch.no_grad():
        image = truth()
    print(f"synthetic truth {options.size}x{options.size}: max {float(image.max()):.0f} photons, "
          f"mean {float(image.mean()):.2f}, background {BACKGROUND} photon/pixel", file=sys.stderr)
    runs = []
    for seed in range(options.first_seed, options.first_seed + options.seeds):
        observed = poisson_observation(image, seed, BACKGROUND)
        start = perturbed(truth_values, CHANGES, seed=1000 + seed)
        runs.append(refine_once(args, truth_values, observed, start, options, BACKGROUND, f"synthetic seed {seed}"))
        save({"runs": runs, "summary": summarise(runs)})
    return runs


def golden_run(options) -> dict:
    """realistic_1024's C image with Poisson noise, central 512x512 region, from perturbed C arguments."""
    case = GOLDEN / "cases" / "realistic_1024"
    argv = (case / "command.txt").read_text().split()
    argv = [str(GOLDEN / "inputs" / "lyso.hkl") if token == "lyso.hkl" else token for token in argv]
    argv += ["-roi", "256", "767", "256", "767"]
    c_image = torch.from_numpy(np.fromfile(case / "floatimage.bin", dtype="<f4").astype(np.float64).reshape(1024, 1024))
    observed = poisson_observation(c_image, seed=options.first_seed, background=0.0)
    model = build(argv, options)
    truth_values = {name: float(model.params[name]) for name in PARAMS if name in model.params}
    start = perturbed(truth_values, CHANGES, seed=2000 + options.first_seed)
    return refine_once(argv, truth_values, observed, start, options, 0.0, "C program realistic_1024 (512x512 ROI)")


def summarise(runs: list) -> dict:
    names = list(runs[0]["parameters"])
    summary = {}
    for name in names:
        errors = np.array([run["parameters"][name]["error"] for run in runs])
        sigmas = np.array([run["parameters"][name]["sigma"] for run in runs])
        summary[name] = {"rms_error": float(np.sqrt(np.mean(errors**2))), "max_abs_error": float(np.abs(errors).max()),
                         "median_sigma": float(np.median(sigmas)),
                         "within_target": int(sum(run["parameters"][name]["within_target"] for run in runs)),
                         "within_3_sigma": int(sum(run["parameters"][name]["within_3_sigma"] for run in runs)),
                         "runs": len(runs)}
    return summary


def print_summary(title: str, runs: list, summary: dict) -> None:
    print(f"\n{title}")
    print(f"{'parameter':>14} {'target':>10} {'rms error':>11} {'max |error|':>12} {'median sigma':>13} "
          f"{'in target':>10} {'in 3 sigma':>11}")
    for name, row in summary.items():
        tolerance, relative = TARGETS.get(name, (math.nan, False))
        target = f"{tolerance:.0e}" + (" rel" if relative else "") if tolerance == tolerance else "-"
        print(f"{name:>14} {target:>10} {row['rms_error']:11.3g} {row['max_abs_error']:12.3g} "
              f"{row['median_sigma']:13.3g} {row['within_target']:>5}/{row['runs']:<4} "
              f"{row['within_3_sigma']:>6}/{row['runs']:<4}")
    iterations = [run["iterations"] for run in runs]
    walls = [run["wall_time_s"] for run in runs]
    print(f"iterations: median {np.median(iterations):.0f} (min {min(iterations)}, max {max(iterations)}); "
          f"wall time per refinement: median {np.median(walls):.0f} s; refined pixels: "
          f"{runs[0]['refined_pixels']}; converged: {sum(r['converged'] for r in runs)}/{len(runs)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="synthetic noise/start seeds (default 10)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="detector pixels per side (default 512; 51.2 mm)")
    parser.add_argument("--domains", type=int, default=10, help="mosaic domains (default 10)")
    parser.add_argument("--max-iterations", type=int, default=100, help="per stage (default 100)")
    parser.add_argument("--stages", default="default")
    parser.add_argument("--spot-margin", type=int, default=4,
                        help="refine pixels within this many pixels of signal (-1: every pixel; default 4)")
    parser.add_argument("--no-compile", action="store_true", help="do not torch.compile the pixel kernel")
    parser.add_argument("--memory-mb", type=float, default=64.0,
                        help="chunk budget (default 64: small chunks run the compiled kernel fastest here)")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--no-golden", action="store_true")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--run-folders", help="write each refinement's run folder under this folder")
    options = parser.parse_args()
    began = time.perf_counter()
    report = {"options": vars(options), "torch": torch.__version__, "threads": torch.get_num_threads()}

    def save(synthetic):
        """Keep the figures so far (a long run can be stopped and still report)."""
        report["synthetic"] = synthetic
        if options.json:
            Path(options.json).write_text(json.dumps(report, indent=1, default=float) + "\n")

    with tempfile.TemporaryDirectory() as folder:
        if not options.no_synthetic:
            runs = synthetic_runs(options, Path(folder), save)
            print_summary(f"synthetic {options.size}x{options.size}, {len(runs)} seed(s)", runs,
                          report["synthetic"]["summary"])
        if not options.no_golden:
            run = golden_run(options)
            report["golden"] = {"runs": [run], "summary": summarise([run])}
            print_summary("C program image (realistic_1024, central 512x512, Poisson noise)", [run],
                          report["golden"]["summary"])
    report["wall_time_s"] = time.perf_counter() - began
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\ntotal wall time {report['wall_time_s']:.0f} s; peak RSS {report['peak_rss_mb']:.0f} MB")
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=1, default=float) + "\n")
        print(f"wrote {os.path.abspath(options.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
