"""``torch-sim refine``: refine a nanoBragg model's parameters against an observed image.

Every input is checked before any work; a bad one exits with status 2, one
line on standard error, and no run folder.
"""

import argparse
import os
from typing import Optional, Sequence

import numpy as np
import torch

from torch_sim.api import from_nanobragg_args
from torch_sim.config.raw_arguments import DEFAULT_MEMORY_BUDGET_MB
from torch_sim.errors import InputError
from torch_sim.functional.compilation import compiler_available

DESCRIPTION = """Refine parameters of a nanoBragg model against an observed detector image.

The model is the nanoBragg command line after "--" (any nanoBragg flag; its
output flags are ignored). The observed image is SMV, CBF or anything fabio
reads, or a raw float32 file (nanoBragg's -floatfile) given with --shape.
The loss is the Poisson negative log-likelihood of the photons (observed minus
--adc) given model + --background, or least squares. Parameters are refined in
stages (default: orientation and beam centre; cell and distance; mosaic spread
and crystal size; then all together) with L-BFGS, and reported with standard
errors from the Fisher information at the optimum.

The run folder (--out) receives config.json, environment.json, metrics.jsonl
(one line per iteration), result.json, summary.txt, final_args.txt (the refined
model as a nanoBragg command line; refined.mat with a -mat crystal) and the
pictures images.png, loss.png and parameters.png. See docs/Refinement.md."""

EPILOG = """parameter names (command-line units):
  cell_a cell_b cell_c (A)  cell_alpha cell_beta cell_gamma (deg)  misset_x misset_y misset_z (deg)
  phi_start osc_range mosaic_spread (deg)  N_a N_b N_c  wavelength (A)  fluence (photons/m^2)
  distance or close_distance (mm)  beam_x beam_y (mm: Xbeam/Ybeam; XDS/DIALS: near point Fclose/Sclose)
  detector_rotx detector_roty detector_rotz twotheta (deg)  pixel_size (mm)  polarization
  detector_thickness detector_abs_depth (um)  hdivrange vdivrange (mrad)  dispersion (%)  water_size (um)
  default_F  background (photons/pixel, with --background)  background_scale (with --background-image)

example:
  torch-sim refine --observed noiseimage.img --adc 40 --params misset_x,misset_y,misset_z,beam_x,beam_y,distance \\
      --bounds distance=95:105 --restraint beam_x=51.25:0.05 --out run1 -- \\
      -cell 70 80 90 75 85 95 -misset 10 20 30 -hkl P1.hkl -N 10 -distance 100 -detpixels 512 -pixel 0.1"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises InputError (one line, exit status 2 from torch-sim) instead of printing usage."""

    def error(self, message):
        raise InputError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="torch-sim refine", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observed", required=True, metavar="FILE", help="observed image (SMV, CBF, ..., or float32 with --shape)")
    parser.add_argument("--shape", nargs=2, type=int, metavar=("SLOW", "FAST"), help="pixels of a raw float32 image")
    parser.add_argument("--params", required=True, help="comma-separated parameter names to refine")
    parser.add_argument("--loss", default="poisson", choices=("poisson", "least_squares"), help="default: poisson")
    parser.add_argument("--bounds", action="append", default=[], metavar="NAME=MIN:MAX",
                        help="keep a parameter inside [MIN, MAX] (either side may be empty); repeatable")
    parser.add_argument("--restraint", action="append", default=[], metavar="NAME=CENTRE:WIDTH",
                        help="Gaussian restraint (prior centre and standard deviation); repeatable")
    parser.add_argument("--scale", action="append", default=[], metavar="NAME=STEP",
                        help="typical step of a parameter (sets its internal scaling); repeatable")
    parser.add_argument("--stages", default="default", metavar="default|none|FILE.json",
                        help="refinement stages: the default four, one stage with everything, or a JSON file")
    parser.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"), help="default: lbfgs")
    parser.add_argument("--max-iterations", type=int, default=100, metavar="N", help="per stage (default 100)")
    parser.add_argument("--adc", type=float, default=0.0, metavar="ADC",
                        help="ADC offset subtracted from the observed values (nanoBragg noise images: 40; default 0)")
    background = parser.add_mutually_exclusive_group()
    background.add_argument("--background", type=float, default=0.0, metavar="PHOTONS",
                            help="constant background added to the model (photons/pixel, default 0)")
    background.add_argument("--background-image", metavar="FILE", help="background image added to the model (photons)")
    parser.add_argument("--mask", metavar="FILE", help="image whose zero pixels are left out of the loss")
    parser.add_argument("--uncertainty", default="fisher", choices=("fisher", "hessian", "none"),
                        help="standard errors from the Fisher information (default) or the exact Hessian")
    parser.add_argument("--out", required=True, metavar="RUNDIR", help="run folder to create (must not exist)")
    parser.add_argument("--seed", type=int, default=0, help="random seed recorded with the run (default 0)")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"), help="default: float64")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--memory-mb", type=float, default=DEFAULT_MEMORY_BUDGET_MB,
                        help=f"memory budget of one chunk of pixels (default {DEFAULT_MEMORY_BUDGET_MB:g})")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not torch.compile the pixel kernel (by default it is compiled where a compiler "
                             "is available: a refinement renders many times)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _pair(text: str, option: str) -> tuple[str, Optional[float], Optional[float]]:
    """``NAME=A:B`` as (name, A, B), an empty side as None."""
    name, equals, rest = text.partition("=")
    first, colon, second = rest.partition(":")
    if not equals or not colon or not name:
        raise InputError(f"{option} {text!r}: expected NAME=A:B")
    try:
        return name, float(first) if first.strip() else None, float(second) if second.strip() else None
    except ValueError:
        raise InputError(f"{option} {text!r}: expected numbers in NAME=A:B") from None


def read_image(path: str, shape: Optional[Sequence[int]], what: str) -> np.ndarray:
    """An image as float64 [slow, fast]: raw float32 when ``shape`` is given, else SMV or any fabio format."""
    from torch_sim.io import read_float_image, read_smv

    if shape is not None:
        return read_float_image(path, tuple(shape)).astype(np.float64)
    if path.lower().endswith((".bin", ".raw")):
        raise InputError(f"{what} {path}: a raw float32 image needs --shape SLOW FAST")
    if not os.path.isfile(path):
        raise InputError(f"cannot read {what} {path}: no such file")
    with open(path, "rb") as handle:
        is_smv = handle.read(12) == b"{\nHEADER_BYT"
    if is_smv:
        return read_smv(path).data.astype(np.float64)
    try:
        import fabio

        return np.asarray(fabio.open(path).data, dtype=np.float64)
    except Exception as error:  # fabio raises many kinds of errors for unreadable files
        raise InputError(f"cannot read {what} {path}: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None


def run_refine(argv: Sequence[str]) -> int:
    """``torch-sim refine ... -- NANOBRAGG ARGS``; returns the exit status (InputError propagates)."""
    from torch_sim.cli.simulate import torch_device
    from torch_sim.refinement import refine

    argv = list(argv)
    if "--" not in argv:
        if any(a in ("-h", "--help") for a in argv):
            _parser().print_help()
            return 0
        raise InputError("give the nanoBragg model after '--' (e.g. -- -cell 70 80 90 90 90 90 -default_F 10 ...)")
    split = argv.index("--")
    options, model_args = _parser().parse_args(argv[:split]), argv[split + 1:]
    if not model_args:
        raise InputError("no nanoBragg arguments after '--'")
    if options.max_iterations < 1:
        raise InputError(f"--max-iterations must be >= 1, got {options.max_iterations}")
    names = [name.strip() for name in options.params.split(",") if name.strip()]
    bounds = {name: (low, high) for name, low, high in (_pair(t, "--bounds") for t in options.bounds)}
    restraints = {}
    for text in options.restraint:
        name, centre, width = _pair(text, "--restraint")
        if centre is None or width is None:
            raise InputError(f"--restraint {text!r}: expected NAME=CENTRE:WIDTH")
        restraints[name] = (centre, width)
    scales = {}
    for text in options.scale:
        name, _, value = text.partition("=")
        try:
            scales[name] = float(value)
        except ValueError:
            raise InputError(f"--scale {text!r}: expected NAME=STEP") from None
    dtype = torch.float32 if options.dtype == "float32" else torch.float64
    device = torch_device(options.device)
    model = from_nanobragg_args(model_args, dtype=dtype, device=device, memory_budget_mb=options.memory_mb,
                                compile=not options.no_compile and compiler_available(device))
    shape = model.config.detector.shape
    observed = read_image(options.observed, options.shape, "observed image")
    mask = read_image(options.mask, options.shape, "mask") if options.mask else None
    background = (read_image(options.background_image, options.shape, "background image")
                  if options.background_image else options.background)
    result = refine(model, observed, names, loss=options.loss, mask=mask, bounds=bounds, restraints=restraints,
                    stages=options.stages, optimizer=options.optimizer, max_iterations=options.max_iterations,
                    run_folder=options.out, progress=not options.no_progress, seed=options.seed,
                    adc_offset=options.adc, background=background, scales=scales,
                    uncertainty=options.uncertainty, base_argv=model_args)
    print(result.table())
    print(f"converged: {result.converged}; {result.iterations} iterations, {result.wall_time_s:.1f} s; "
          f"image {shape[0]}x{shape[1]}, {result.refined_pixels} pixels refined")
    for warning in result.warnings:
        print(f"warning: {warning}")
    if options.adc == 0.0 and float(np.min(observed)) >= 10:
        print(f"warning: the smallest observed value is {float(np.min(observed)):g}: was an ADC offset (--adc) "
              "meant to be subtracted?")
    print(f"run folder: {result.run_folder}")
    return 0
