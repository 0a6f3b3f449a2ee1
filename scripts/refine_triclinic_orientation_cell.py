"""Example: refine the orientation (misset) and unit cell of a triclinic crystal.

A triclinic crystal (70 80 90 A, 75 85 95 deg) with Wilson-like structure
factors is rendered on a 256x256 detector with Poisson noise; the start is
off by 0.2 deg per misset axis, 0.5% per cell length and 0.3 deg per cell
angle. Stages: orientation, cell, then everything together. Prints truth,
start and refined +- standard error, and writes the structure factors
(./triclinic.hkl, which the refined command line in the run folder reads) and
the run folder (default: ./refine_triclinic_run).

    python scripts/refine_triclinic_orientation_cell.py [--out DIR] [--seed N] [--no-compile]
"""

import torch_sim
from synthetic_example import example_options, refine_synthetic
from torch_sim.refinement import Stage
from torch_sim.refinement.synthetic import perturbed, write_wilson_hkl

CELL = (70.0, 80.0, 90.0, 75.0, 85.0, 95.0)
ARGS = ["-cell", *map(str, CELL), "-misset", "10", "20", "30", "-hkl", "triclinic.hkl", "-N", "12", "-lambda", "1.0",
        "-distance", "100", "-detpixels", "256", "-pixel", "0.2", "-oversample", "1", "-mosaic", "0.1",
        "-mosaic_domains", "4", "-fluence", "2e28"]
MISSET = ("misset_x", "misset_y", "misset_z")
CELL_PARAMS = ("cell_a", "cell_b", "cell_c", "cell_alpha", "cell_beta", "cell_gamma")
CHANGES = {**{n: ("add", 0.2) for n in MISSET}, **{n: ("relative", 0.005) for n in CELL_PARAMS[:3]},
           **{n: ("add", 0.3) for n in CELL_PARAMS[3:]}}


def main() -> None:
    options = example_options(__doc__, "refine_triclinic_run")
    write_wilson_hkl("triclinic.hkl", CELL, resolution_A=2.5, seed=3)
    truth = torch_sim.from_nanobragg_args(ARGS)
    start = perturbed({name: float(truth.params[name]) for name in CHANGES}, CHANGES, seed=options.seed)
    stages = [Stage("orientation", list(MISSET)), Stage("cell", list(CELL_PARAMS)), Stage("joint", "all")]
    refine_synthetic(options, ARGS, start, stages, background=0.5)


if __name__ == "__main__":
    main()
