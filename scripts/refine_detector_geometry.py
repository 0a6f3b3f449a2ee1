"""Example: refine the detector geometry: distance, beam centre and two-theta.

A crystal (70 80 90 75 85 95) is rendered on a 256x256 detector swung out by
two-theta = 5 deg (MOSFLM convention), with Poisson noise; the start is off by
1.5 mm in distance, 0.2 mm in each beam-centre coordinate and 0.3 deg in
two-theta. Stages: beam centre, then distance and two-theta, then together.
Prints truth, start and refined +- standard error, writes the run folder
(default: ./refine_detector_run) whose final_args.txt is the refined nanoBragg
command line.

    python scripts/refine_detector_geometry.py [--out DIR] [--seed N] [--no-compile]
"""

import argparse
import shutil

import torch

import torch_sim
from torch_sim.refinement import Stage, refine
from torch_sim.refinement.pixel_selection import spot_mask
from torch_sim.refinement.synthetic import perturbed, poisson_observation

NAMES = ("distance", "beam_x", "beam_y", "twotheta")
BACKGROUND = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="refine_detector_run", help="run folder (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-compile", action="store_true", help="do not torch.compile the pixel kernel")
    options = parser.parse_args()
    build = lambda argv: torch_sim.from_nanobragg_args(argv, compile=not options.no_compile, memory_budget_mb=64)
    args = ["-cell", "70", "80", "90", "75", "85", "95", "-misset", "10", "20", "30", "-default_F", "30",
            "-N", "10", "-lambda", "1.0", "-distance", "120", "-twotheta", "5", "-detpixels", "256",
            "-pixel", "0.2", "-oversample", "1", "-mosaic", "0.1", "-mosaic_domains", "4", "-fluence", "1e28"]
    truth = build(args)
    truth_values = {name: float(truth.params[name]) for name in NAMES}
    with torch.no_grad():
        observed = poisson_observation(truth(), options.seed, BACKGROUND)

    start = perturbed(truth_values, {"distance": ("add", 1.5), "beam_x": ("add", 0.2), "beam_y": ("add", 0.2),
                                     "twotheta": ("add", 0.3)}, seed=options.seed)
    model = build(args)
    with torch.no_grad():
        for name, value in start.items():
            model.params[name].fill_(value)
        mask = spot_mask([observed - BACKGROUND, model()], threshold=0.3, margin_px=4)
    shutil.rmtree(options.out, ignore_errors=True)
    stages = [Stage("beam_centre", ["beam_x", "beam_y"]), Stage("distance_twotheta", ["distance", "twotheta"]),
              Stage("joint", "all")]
    result = refine(model, observed, list(NAMES), mask=mask, background=BACKGROUND, stages=stages,
                    max_iterations=60, run_folder=options.out, base_argv=args, seed=options.seed)
    print(result.table(truth_values))
    print(f"converged: {result.converged}; {result.iterations} iterations in {result.wall_time_s:.0f} s over "
          f"{result.refined_pixels} pixels")
    print(f"refined command: {(result.run_folder + '/final_args.txt')}")


if __name__ == "__main__":
    main()
