"""``torch-sim demo``: render a built-in example (a lysozyme-like crystal) and a PNG preview.

Writes into the output folder a synthetic structure-factor file, the float, int
and noise images of nanoBragg.c's formats, and ``preview.png``.
"""

import argparse
import os
from typing import Sequence

import numpy as np

from torch_sim.io import read_float_image
from torch_sim.io.atomic import atomic_write
from torch_sim.io.png_preview import write_png_preview

#: Tetragonal lysozyme-like cell (A, degrees).
DEMO_CELL = (79.1, 79.1, 38.2, 90.0, 90.0, 90.0)
DEMO_ARGS = [
    "-cell", *map(str, DEMO_CELL), "-misset", "10", "-23", "31", "-hkl", "demo.hkl",
    "-N", "8", "-lambda", "1.0", "-distance", "120", "-detpixels", "512", "-pixel", "0.2",
    "-mosaic", "0.3", "-mosaic_domains", "6", "-oversample", "1", "-seed", "1",
    "-floatfile", "floatimage.bin", "-intfile", "intimage.img", "-noisefile", "noiseimage.img", "-nopgm",
]


def write_demo_hkl(path: str, resolution_A: float = 2.5, seed: int = 0) -> None:
    """A P1 structure-factor list with Wilson-like random amplitudes to ``resolution_A``."""
    a, b, c = DEMO_CELL[:3]
    hmax, kmax, lmax = (int(length / resolution_A) for length in (a, b, c))
    h, k, l = np.meshgrid(np.arange(-hmax, hmax + 1), np.arange(-kmax, kmax + 1), np.arange(-lmax, lmax + 1),
                          indexing="ij")
    stol_sqr = 0.25 * ((h / a) ** 2 + (k / b) ** 2 + (l / c) ** 2)
    keep = stol_sqr <= 0.25 / resolution_A**2
    rng = np.random.default_rng(seed)
    amplitude = rng.rayleigh(300.0, size=h.shape) * np.exp(-20.0 * stol_sqr)
    with atomic_write(path, "w") as handle:
        for row in zip(h[keep], k[keep], l[keep], amplitude[keep]):
            handle.write("%4d %4d %4d %10.3f\n" % row)


def run_demo(argv: Sequence[str]) -> int:
    from torch_sim.cli.simulate import run

    parser = argparse.ArgumentParser(prog="torch-sim demo", description=__doc__)
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    options = parser.parse_args(list(argv))
    os.makedirs(options.out, exist_ok=True)
    start = os.getcwd()
    os.chdir(options.out)
    try:
        write_demo_hkl("demo.hkl")
        status = run(DEMO_ARGS)
        image = read_float_image("floatimage.bin", (512, 512))
        write_png_preview("preview.png", image, "torch_sim demo: lysozyme-like crystal")
        print(f"wrote {os.path.join(options.out, 'floatimage.bin')}, intimage.img, noiseimage.img and preview.png")
    finally:
        os.chdir(start)
    return status
