"""Example: refine mosaic spread and crystal size (N_a, N_b, N_c) with a polychromatic beam.

The beam has a 2% band pass sampled in 3 wavelengths (-dispersion 2
-dispsteps 3); the crystal (70 80 90 75 85 95, N = 8 x 10 x 12, 0.3 deg
mosaic spread in 6 domains) is rendered on a 192x192 detector with Poisson
noise. The start has twice the mosaic spread and N off by one along each
axis. Prints truth, start and refined +- standard error and writes the run
folder (default: ./refine_mosaic_run).

    python scripts/refine_mosaic_size_spectrum.py [--out DIR] [--seed N] [--no-compile]
"""

from synthetic_example import example_options, refine_synthetic

ARGS = ["-cell", "70", "80", "90", "75", "85", "95", "-misset", "10", "20", "30", "-default_F", "30",
        "-Na", "8", "-Nb", "10", "-Nc", "12", "-lambda", "1.0", "-dispersion", "2", "-dispsteps", "3",
        "-distance", "100", "-detpixels", "192", "-pixel", "0.2", "-oversample", "1", "-mosaic", "0.3",
        "-mosaic_domains", "6", "-fluence", "1e28"]
START = {"mosaic_spread": 0.6, "N_a": 9.0, "N_b": 9.0, "N_c": 13.0}


def main() -> None:
    options = example_options(__doc__, "refine_mosaic_run")
    refine_synthetic(options, ARGS, START, "default", background=0.5, margin_px=3)


if __name__ == "__main__":
    main()
