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

import torch_sim
from synthetic_example import example_options, refine_synthetic
from torch_sim.refinement import Stage
from torch_sim.refinement.synthetic import perturbed

ARGS = ["-cell", "70", "80", "90", "75", "85", "95", "-misset", "10", "20", "30", "-default_F", "30", "-N", "10",
        "-lambda", "1.0", "-distance", "120", "-twotheta", "5", "-detpixels", "256", "-pixel", "0.2",
        "-oversample", "1", "-mosaic", "0.1", "-mosaic_domains", "4", "-fluence", "1e28"]
CHANGES = {"distance": ("add", 1.5), "beam_x": ("add", 0.2), "beam_y": ("add", 0.2), "twotheta": ("add", 0.3)}


def main() -> None:
    options = example_options(__doc__, "refine_detector_run")
    truth = torch_sim.from_nanobragg_args(ARGS)
    start = perturbed({name: float(truth.params[name]) for name in CHANGES}, CHANGES, seed=options.seed)
    stages = [Stage("beam_centre", ["beam_x", "beam_y"]), Stage("distance_twotheta", ["distance", "twotheta"]),
              Stage("joint", "all")]
    refine_synthetic(options, ARGS, start, stages, background=0.5)


if __name__ == "__main__":
    main()
