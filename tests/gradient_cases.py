"""Tiny configurations for gradient checks, covering conventions, pivots, shapes and options."""

import numpy as np
import torch
from torch.func import functional_call

import torch_sim

TRICLINIC = ["-cell", "70", "80", "90", "75", "85", "95", "-misset", "10", "20", "30"]
TINY = ["-detpixels", "6", "-pixel", "0.8", "-oversample", "2", "-noprogress"]

CONFIGURATIONS = {
    # MOSFLM, beam pivot, parallelepiped; mosaic, phi steps, divergence, dispersion, water
    "mosflm_square": TRICLINIC + TINY + [
        "-default_F", "50", "-N", "4", "-lambda", "1.2", "-distance", "50", "-Xbeam", "12", "-Ybeam", "10",
        "-mosaic", "0.5", "-mosaic_domains", "3", "-detector_rotx", "1", "-detector_roty", "-2",
        "-detector_rotz", "1.5", "-twotheta", "4", "-phi", "1", "-osc", "0.4", "-phisteps", "2", "-polar", "0.9",
        "-hdivrange", "0.4", "-hdivsteps", "2", "-vdivrange", "0.4", "-vdivsteps", "2",
        "-dispersion", "1", "-dispsteps", "2", "-water", "0.3"],
    # XDS, sample pivot, close distance, ellipsoidal crystal, thick sensor
    "xds_round_thick": ["-xds", "-cell", "60", "60", "90", "90", "90", "120", "-misset", "5", "-10", "20"] + TINY + [
        "-default_F", "40", "-N", "3", "-lambda", "0.9", "-close_distance", "40", "-ORGX", "-10", "-ORGY", "-8",
        "-round_xtal", "-detector_thick", "50", "-detector_abs", "200", "-detector_thicksteps", "2",
        "-twotheta", "3", "-polar", "0.5", "-detector_rotx", "2"],
    # custom vectors, sample pivot, Gaussian spots, curved detector
    "custom_gauss_curved": ["-cell", "50", "60", "70", "80", "95", "100", "-misset", "20", "-5", "10"] + TINY + [
        "-default_F", "30", "-N", "5", "-lambda", "1.0", "-fdet_vector", "0", "0.0998", "0.995",
        "-sdet_vector", "0", "-0.995", "0.0998", "-odet_vector", "1", "0", "0", "-beam_vector", "1", "0", "0",
        "-polar_vector", "0", "0", "1", "-spindle_axis", "0", "0", "1", "-distance", "45", "-Xbeam", "12",
        "-Ybeam", "10", "-gauss_xtal", "-curved_det", "-phi", "2", "-polar", "0.3", "-pivot", "sample"],
    # ADXV, point pixel, every -oversample_* flag with a thick sensor
    "adxv_oversample_flags": ["-adxv"] + TRICLINIC + TINY + [
        "-default_F", "50", "-N", "4", "-lambda", "1.0", "-distance", "50", "-point_pixel",
        "-oversample_omega", "-oversample_polar", "-oversample_thick", "-detector_thick", "100",
        "-detector_thicksteps", "2", "-polar", "0.6", "-Xbeam", "12", "-Ybeam", "10"],
}

#: DENZO with an HKL table and tricubic interpolation (auto-selected for N = 2).
INTERPOLATED = ["-denzo", "-cell", "30", "32", "34", "88", "92", "95", "-misset", "3", "4", "5", "-hkl", "small.hkl",
                "-N", "2", "-lambda", "1.5", "-distance", "80", "-Xbeam", "3", "-Ybeam", "3"] + TINY + ["-pixel", "1.0"]


def write_small_hkl(path, half_range: int = 4, seed: int = 7) -> None:
    """A P1 HKL file with random amplitudes for |h|, |k|, |l| <= half_range."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for h in range(-half_range, half_range + 1):
            for k in range(-half_range, half_range + 1):
                for l in range(-half_range, half_range + 1):
                    handle.write(f"{h} {k} {l} {rng.uniform(20, 200):.3f}\n")


def build(argv) -> torch_sim.Simulator:
    model = torch_sim.from_nanobragg_args(argv)
    model.crystal.config.mosaic_float32 = False
    return model


def full_name(model, name: str) -> str:
    return next(key for key, _ in model.named_parameters() if key.split(".")[-1] == name)


def image_function(model, name: str):
    """(f, u0): the image over its maximum as a function of a relative change u of parameter ``name``.

    p = p0 (1 + u), so one finite-difference step suits every unit, and the image
    is divided by its maximum at u = 0, so one absolute tolerance suits every
    configuration. A parameter at 0 is checked at 1 instead (in its own units),
    where its derivative is not trivially zero; singular points are tested separately.
    """
    key = full_name(model, name)
    base = dict(model.named_parameters())[key].detach().clone()
    base = torch.where(base != 0, base, torch.ones_like(base))
    with torch.no_grad():
        image_max = functional_call(model, {key: base}).abs().max()

    def f(u):
        return functional_call(model, {key: base * (1 + u)}) / image_max

    return f, torch.zeros_like(base, requires_grad=True)
