"""``torch-sim ARGS``: a nanoBragg-compatible run — same flags, same printout, same files."""

import math
import sys
import time
from typing import Sequence

import torch
from tqdm import tqdm

from torch_sim.cli import report
from torch_sim.cli.statistics import image_statistics
from torch_sim.config.raw_arguments import RawArguments
from torch_sim.config.resolve import resolve_arguments
from torch_sim.errors import InputError
from torch_sim.io import (
    default_int_scale,
    default_pgm_scale,
    float_to_int_image,
    float_to_pgm_bytes,
    nanobragg_smv_header_fields,
    smv_header_text,
    write_fdump,
    write_float_image,
    write_hdf5,
    write_pgm,
    write_smv,
)
from torch_sim.io.hkl import StructureFactorGrid
from torch_sim.modules.simulator import Simulator
from torch_sim.rng import Seed, poisson_noise_image, poisson_noise_image_torch
from torch_sim.units import RTD


def torch_device(name: str) -> torch.device:
    """The device named by ``-device``; InputError if it is not available here."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"-device: unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"-device {name}: CUDA is not available on this machine")
    return device


def build_model(argv: Sequence[str], use_fdump: bool):
    """Resolve the command line and build the simulator; writes Fdump.bin after reading -hkl, as the C."""
    config, raw = resolve_arguments(argv, use_fdump=use_fdump)
    table = config.crystal.structure_factors
    if use_fdump and raw.hklfilename is not None and table is not None:
        lo, hi = table.hkl_min, table.hkl_max
        try:
            write_fdump(raw.dumpfilename, StructureFactorGrid(table.amplitudes, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]))
            config.messages.append(("hkl", f"writing dump file for next time: {raw.dumpfilename}"))
        except InputError:
            config.messages.append(("hkl", f"WARNING: unable to open dump file: {raw.dumpfilename}"))
    dtype = torch.float32 if raw.dtype == "float32" else torch.float64
    model = Simulator(config, dtype=dtype, device=torch_device(raw.device), memory_budget_mb=raw.memory_budget_mb,
                      compile=raw.compile)
    return model, raw


def _header_fields(model: Simulator, raw: RawArguments, noise_file: bool):
    with torch.no_grad():
        geometry = model.detector()
    params = model.params
    osc_deg = float(params["osc_range"]) if "osc_range" in params else model.config.crystal.osc_range_deg
    return nanobragg_smv_header_fields(
        fpixels=model.config.detector.fpixels, spixels=model.config.detector.spixels,
        pixel_size_m=float(geometry.pixel_size), distance_m=float(geometry.distance),
        lambda0_m=float(params["wavelength"]) / 1.0e10, Xbeam_m=float(geometry.Xbeam), Ybeam_m=float(geometry.Ybeam),
        Fbeam_m=float(geometry.Fbeam), Sbeam_m=float(geometry.Sbeam), detsize_s_m=float(geometry.detsize_s),
        dials_origin_mm=[float(x) for x in geometry.dials_origin_mm], ORGX=float(geometry.ORGX),
        ORGY=float(geometry.ORGY), close_distance_m=float(geometry.close_distance),
        phi0_rad=float(params["phi_start"]) / RTD, osc_rad=osc_deg / RTD,
        twotheta_rad=float(params["twotheta"]) / RTD, noise_file=noise_file,
    )


def _write_smv(path: str, image, fields, raw: RawArguments) -> None:
    """SMV file as nanoBragg writes it; warns when its header overflows the 512 bytes it declares."""
    if not raw.fit_smv_header and len(smv_header_text(fields)) > 512:
        print(f"torch-sim: warning: the header of {path} is longer than the 512 bytes it declares, as nanoBragg "
              "writes it (readers trusting HEADER_BYTES misplace the pixels); -fit_smv_header writes a valid file",
              file=sys.stderr)
    write_smv(path, image, fields, fit_header=raw.fit_smv_header)


def _render(model: Simulator, raw: RawArguments) -> torch.Tensor:
    show = raw.progress_meter and not raw.printout
    with torch.no_grad(), tqdm(total=int(model.pixel_index.numel()), unit="px", disable=not show,
                               file=sys.stderr, leave=False) as bar:
        return model(progress=bar.update)


def _progress_events(rendered: list, roi) -> list:
    """The C's progress meter ("N% done" after some pixels), as a single thread prints it: (pixel, [line])."""
    fast_min, fast_max, slow_min, slow_max = roi
    total = (fast_max - fast_min + 1) * (slow_max - slow_min + 1)
    if total // 100 <= 0:
        return []
    events = []
    for count, index in enumerate(rendered):
        if count % (total // 20) == 0 or ((10 * count < total or 10 * count > 9 * total) and count % (total // 100) == 0):
            events.append((index, ["%d%% done" % (count * 100 // total)]))
    return events


def _loop_output(model: Simulator, raw: RawArguments, image32) -> list:
    """What the C prints during its pixel loop, in its order: -printout traces or the progress meter,
    the interpolation warning (which has no newline, so the next printed text continues its line)
    and the final newline."""
    detector = model.config.detector
    rendered = model.pixel_index.tolist()
    events = []
    if raw.printout:
        wanted = raw.printout_pixel
        if wanted is not None and wanted[0] >= 0:
            index = wanted[1] * detector.fpixels + wanted[0]
            traced = [index] if index in set(rendered) else []
        else:
            traced = rendered
        for index in traced:
            fast, slow = index % detector.fpixels, index // detector.fpixels
            events.append((index, report.pixel_trace_lines(model, fast, slow, float(image32[slow, fast]))))
    elif raw.progress_meter:
        events = _progress_events(rendered, detector.roi)
    summary = model.last_render
    trip = summary.tripped_pixel if summary.warning else None
    before = [line for index, lines in events if trip is None or index < trip for line in lines]
    after = [line for index, lines in events if trip is not None and index >= trip for line in lines] + [""]
    if trip is None:
        return before + after
    first, unfinished = summary.warning.split("\n")
    return before + [first, unfinished + after[0]] + after[1:]


def _reporting_copy(model: Simulator) -> Simulator:
    """The model in float64 on the CPU (built from the configuration, so parameter values are not
    rounded by the render's dtype), where the C program's printed values are computed."""
    if model.dtype == torch.float64 and model.pixel_index.device.type == "cpu":
        return model
    reporting = Simulator(model.config, dtype=torch.float64, device="cpu", compile=False)
    reporting.last_render = model.last_render
    return reporting


def run(argv: Sequence[str], out=print) -> int:
    """Run one simulation like nanoBragg.c; returns the exit status."""
    model, raw = build_model(argv, use_fdump=True)
    reporting = _reporting_copy(model)
    seed = raw.seed if raw.seed is not None else -int(time.time())
    for line in report.preamble_lines(reporting, raw):
        out(line)
    if raw.calculate_noise:
        for line in report.noise_parameter_lines(seed, model.config.beam.water_size_um):
            out(line)

    image = _render(model, raw)
    reporting.last_render = model.last_render
    image32 = image.detach().to("cpu", torch.float32).numpy()
    detector = model.config.detector
    for line in _loop_output(reporting, raw, image32):
        out(line)
    omega = float(model.last_render.solid_angle_sum) / model.config.steps
    out("solid angle subtended by detector = %g steradian ( %g%% sphere)" % (omega, 100 * omega / 4 / math.pi))

    write_float_image(raw.floatfilename, image32)
    out("writing %s as %d %d-byte floats" % (raw.floatfilename, image32.size, 4))
    if raw.hdf5filename is not None:
        write_hdf5(raw.hdf5filename, image.detach().cpu().numpy(), _hdf5_metadata(model, argv=raw))
    pixel_size_m = float(model.params["pixel_size"]) / 1000.0
    stats = image_statistics(image32, model.pixel_index.cpu().numpy(), detector, pixel_size_m)
    for line in report.statistics_lines(stats):
        out(line)
    int_scale = raw.intfile_scale if raw.intfile_scale > 0.0 else default_int_scale(stats.max_I)
    out("intfile_scale = %g" % int_scale)
    _write_smv(raw.intfilename, float_to_int_image(image32, int_scale, raw.adc_offset, detector.roi),
               _header_fields(reporting, raw, noise_file=False), raw)
    out("writing %s as %d-byte integers" % (raw.intfilename, 2))
    if raw.write_pgm:
        pgm_scale = raw.pgm_scale if raw.pgm_scale > 0.0 else default_pgm_scale(stats.rmsd, int_scale)
        out("pgm_scale = %g" % pgm_scale)
        write_pgm(raw.pgmfilename, float_to_pgm_bytes(image32, pgm_scale, detector.roi), pgm_scale)
        out("writing %s as %d-byte integers" % (raw.pgmfilename, 1))
    if raw.calculate_noise:
        if raw.noise_method == "torch":
            noise = poisson_noise_image_torch(torch.as_tensor(image32), raw.adc_offset, roi=detector.roi)
            noise_image = noise.image.numpy()
        else:
            noise = poisson_noise_image(image32, model.config.random_state, Seed(seed), raw.adc_offset, detector.roi)
            noise_image = noise.image
        out("%.0f photons on noise image (%d overloads)" % (noise.photons, noise.overloads))
        _write_smv(raw.noisefilename, noise_image, _header_fields(reporting, raw, noise_file=True), raw)
        out("writing %s as %d-byte integers" % (raw.noisefilename, 2))
    return 0


def _hdf5_metadata(model: Simulator, argv) -> dict:
    metadata = {f"{name}": float(value) for name, value in model.params.items() if value.dim() == 0}
    metadata.update(units="photons per pixel", convention=model.config.detector.convention.value,
                    fpixels=model.config.detector.fpixels, spixels=model.config.detector.spixels)
    return metadata
