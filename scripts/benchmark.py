#!/usr/bin/env python
"""Speed and memory of torch_sim against nanoBragg.c (a benchmark that prints figures, not a test).

Each measurement runs in a fresh Python process, so that its peak memory (RSS
on CPU, max allocated on GPU) is its own. For every case, dtype (float64,
float32), mode (eager, compiled) and pass (forward; forward+backward with every
refinable parameter requiring grad) it prints the median wall time of several
renders after a warm-up render (whose extra time is reported as compilation),
peak memory, and evaluations per second (pixels x subpixels x layers x sources
x phi steps x domains). With a nanoBragg executable (``--nanobragg`` or
``NANOBRAGG_BIN``) the same command lines run through it with OMP_NUM_THREADS
set to torch's thread count, and the ratio is printed per case.

    python scripts/benchmark.py                                  # the default table
    python scripts/benchmark.py --nanobragg ~/bin/nanoBragg --json results.json
    python scripts/benchmark.py --cases realistic_1024 --modes compiled --passes forward
    python scripts/benchmark.py --scaling                        # time vs evaluations (slope)
    python scripts/benchmark.py --memory-sweep                   # peak memory vs mosaic domains
    python scripts/benchmark.py --backward-ratio --repeats 15    # forward+backward / forward, paired
    python scripts/benchmark.py --backward-ratio --fixed structure_factors,default_F   # F held fixed
    python scripts/benchmark.py --device cuda --c-reference results.json   # on a GPU machine
"""

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

REPOSITORY = Path(__file__).resolve().parent.parent
INPUTS = REPOSITORY / "golden_data" / "nanobragg_c" / "inputs"
REALISTIC = (REPOSITORY / "golden_data" / "nanobragg_c" / "cases" / "realistic_1024" / "command.txt").read_text().split()
OUTPUT_FLAGS = {"-floatfile", "-intfile", "-noisefile", "-pgmfile"}


def _without_outputs(argv):
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in OUTPUT_FLAGS:
            skip = True
        elif arg not in ("-nonoise", "-nopgm", "-noprogress"):
            kept.append(arg)
    return kept


def _replace(argv, flag, *values):
    argv = list(argv)
    if flag in argv:
        position = argv.index(flag)
        argv[position + 1:position + 1 + len(values)] = list(values)
    else:
        argv += [flag, *values]
    return argv


BASE = _without_outputs(REALISTIC)
CASES = {
    # the golden case: 1024x1024, 0.1 mm, cell 79x79x38, N=10, 10 mosaic domains, HKL (oversample 2 auto-selected)
    "realistic_1024": BASE,
    # 1024x1024 with an explicit 2x2 oversampling, one domain, no HKL table
    "oversample2_1024": ["-cell", "79.1", "79.1", "38.2", "90", "90", "90", "-misset", "12", "-23", "31",
                         "-default_F", "100", "-N", "10", "-lambda", "1.0", "-distance", "200",
                         "-detpixels", "1024", "-pixel", "0.1", "-oversample", "2"],
    # 2048x2048 with 0.075 mm pixels (oversample 1 auto-selected), 10 domains
    "pixels_2048": _replace(_replace(BASE, "-detpixels", "2048"), "-pixel", "0.075"),
    # 100 mosaic domains on 512x512
    "mosaic_100": _replace(_replace(BASE, "-detpixels", "512"), "-mosaic_domains", "100"),
    # 25 sources: 5 divergence steps x 5 wavelengths, 512x512, one domain
    "sources_25": _replace(_replace(_replace(BASE, "-detpixels", "512"), "-mosaic_domains", "1"), "-mosaic", "0") + [
        "-hdivrange", "0.5", "-hdivsteps", "5", "-dispersion", "0.5", "-dispsteps", "5", "-square_div"],
}


def _stage_inputs(argv, folder: Path):
    for name in ("lyso.hkl", "P1.hkl"):
        if name in argv:
            shutil.copy(INPUTS / name, folder / name)


# ----------------------------------------------------------------------------- one measurement (child process)

def _peak_memory_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _model(case: str, dtype_name: str, mode: str, device_name: str, memory_mb: Optional[float], argv=None):
    """The simulator of a case (``memory_mb`` None: the library's chunk budget)."""
    import torch

    import torch_sim

    dtype = {"float64": torch.float64, "float32": torch.float32}[dtype_name]
    argv = CASES[case] if argv is None else argv
    with tempfile.TemporaryDirectory() as folder:
        _stage_inputs(argv, Path(folder))
        start_dir = os.getcwd()
        os.chdir(folder)
        try:
            budget = {} if memory_mb is None else {"memory_budget_mb": memory_mb}
            return torch_sim.from_nanobragg_args(argv, dtype=dtype, device=torch.device(device_name),
                                                 compile=(mode == "compiled"), **budget)
        finally:
            os.chdir(start_dir)


def _timed_render(model, backward: bool, fixed=()) -> float:
    """Wall time (s) of one render: the forward alone (no graph recorded), or forward and backward with every
    parameter requiring grad but those named in ``fixed`` (names the model lacks, such as ``structure_factors``
    without a table, are ignored)."""
    import torch

    for name, value in model.params.items():
        value.requires_grad_(backward and name not in fixed)
        value.grad = None
    device = model.pixel_index.device
    start = time.perf_counter()
    if backward:
        model().sum().backward()
    else:
        with torch.no_grad():
            model()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def measure(case: str, dtype_name: str, mode: str, pass_name: str, repeats: int, device_name: str,
            memory_mb: Optional[float], argv=None, fixed=()) -> dict:
    """Time one configuration in this process (``fixed``: parameters held fixed in the backward pass); returns
    a row."""
    import torch

    model = _model(case, dtype_name, mode, device_name, memory_mb, argv)
    device = model.pixel_index.device
    baseline_mb = _peak_memory_mb(device)
    backward = pass_name == "forward+backward"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    first = _timed_render(model, backward, fixed)
    times = [_timed_render(model, backward, fixed) for _ in range(repeats)]
    median = statistics.median(times)
    evaluations = model.evaluations()
    return dict(case=case, dtype=dtype_name, mode=mode, passes=pass_name, device=device_name, fixed=list(fixed),
                threads=torch.get_num_threads(), median_s=median, times_s=times, first_s=first,
                compile_s=max(first - median, 0.0) if mode == "compiled" else 0.0,
                peak_memory_mb=_peak_memory_mb(device), baseline_memory_mb=baseline_mb,
                evaluations=evaluations, evaluations_per_s=evaluations / median)


def measure_backward_ratio(case: str, dtype_name: str, mode: str, repeats: int, device_name: str,
                           memory_mb: Optional[float], argv=None, fixed=()) -> dict:
    """Forward and forward+backward (``fixed``: parameters held fixed) rendered alternately in one process
    (after a warm-up of each), so that both see the same machine: the medians, and the ratio of each pair's
    times (median and quartiles)."""
    model = _model(case, dtype_name, mode, device_name, memory_mb, argv)
    _timed_render(model, False)
    _timed_render(model, True, fixed)
    forward, both = [], []
    for _ in range(repeats):
        forward.append(_timed_render(model, False))
        both.append(_timed_render(model, True, fixed))
    ratios = sorted(b / f for f, b in zip(forward, both))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return dict(case=case, dtype=dtype_name, mode=mode, fixed=list(fixed), forward_s=statistics.median(forward),
                forward_backward_s=statistics.median(both), ratio=statistics.median(ratios),
                ratio_quartiles=[quartiles[0], quartiles[2]], forward_times_s=forward, forward_backward_times_s=both)


#: options every child process gets (set from the command line)
_CHILD_OPTIONS = []


def _run_child(arguments: list, timeout: float) -> dict:
    command = [sys.executable, __file__, *_CHILD_OPTIONS, "--child", json.dumps(arguments)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {completed.returncode}: {last}"}
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- nanoBragg

def time_nanobragg(executable: str, case: str, threads: int, repeats: int, argv=None) -> float:
    """Median wall time of nanoBragg on the case (each run in a fresh folder with its inputs)."""
    argv = CASES[case] if argv is None else argv
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads))
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            _stage_inputs(argv, Path(folder))
            start = time.perf_counter()
            subprocess.run([executable, *argv, "-noprogress", "-nonoise", "-nopgm"], cwd=folder, env=environment,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# ----------------------------------------------------------------------------- reports

def _format_row(row: dict, c_time) -> str:
    if "error" in row:
        return f"{row['case']:17s} {row['dtype']:8s} {row['mode']:9s} {row['passes']:17s} ERROR {row['error']}"
    ratio = f"{row['median_s'] / c_time:8.2f}" if c_time else "       -"
    return (f"{row['case']:17s} {row['dtype']:8s} {row['mode']:9s} {row['passes']:17s} {row['median_s']:9.3f} "
            f"{row['compile_s']:8.1f} {row['peak_memory_mb']:9.0f} {row['evaluations_per_s'] / 1e6:9.1f} {ratio}")


HEADER = (f"{'case':17s} {'dtype':8s} {'mode':9s} {'pass':17s} {'median_s':>9s} {'compile':>8s} {'peak_MB':>9s} "
          f"{'Meval/s':>9s} {'vs_C':>8s}")


def _fit_slope(points) -> float:
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def scaling(options) -> dict:
    """Time of the compiled float32 forward as pixels, domains and oversampling grow; log-log slope."""
    points = []
    print(f"{'pixels':>8s} {'oversample':>10s} {'domains':>8s} {'evaluations':>12s} {'median_s':>9s}")
    for side in (256, 512, 1024, 2048):
        for oversample in (1, 2):
            for domains in (1, 4, 16):
                argv = _replace(_replace(_replace(BASE, "-detpixels", str(side)), "-mosaic_domains", str(domains)),
                                "-oversample", str(oversample))
                row = _run_child(dict(case="realistic_1024", dtype_name=options.scaling_dtype, mode=options.scaling_mode,
                                      pass_name="forward", repeats=options.repeats, device_name=options.device,
                                      memory_mb=options.memory_mb, argv=argv), options.timeout)
                if "error" in row:
                    print(side, oversample, domains, row["error"])
                    continue
                points.append((row["evaluations"], row["median_s"]))
                print(f"{side * side:8d} {oversample:10d} {domains:8d} {row['evaluations']:12d} {row['median_s']:9.3f}")
    slope = _fit_slope(points)
    large = [p for p in points if p[0] >= 1e7]
    print(f"log-log slope of time vs evaluations: {slope:.3f} (all points), "
          f"{_fit_slope(large):.3f} (>= 1e7 evaluations)" if len(large) >= 2 else f"slope {slope:.3f}")
    return {"points": points, "slope": slope}


def memory_sweep(options) -> list:
    """Peak memory as the number of mosaic domains grows (512x512), forward and forward+backward."""
    rows = []
    print(f"{'domains':>8s} {'pass':17s} {'peak_MB':>9s} {'baseline_MB':>12s} {'median_s':>9s}")
    for pass_name in ("forward", "forward+backward"):
        for domains in (10, 30, 100):
            argv = _replace(_replace(BASE, "-detpixels", "512"), "-mosaic_domains", str(domains))
            row = _run_child(dict(case="realistic_1024", dtype_name="float64", mode=options.modes[0],
                                  pass_name=pass_name, repeats=1, device_name=options.device,
                                  memory_mb=options.memory_mb, argv=argv, fixed=options.fixed), options.timeout)
            row["domains"] = domains
            rows.append(row)
            if "error" in row:
                print(domains, pass_name, row["error"])
                continue
            print(f"{domains:8d} {pass_name:17s} {row['peak_memory_mb']:9.0f} {row['baseline_memory_mb']:12.0f} "
                  f"{row['median_s']:9.2f}")
    return rows


def backward_ratios(options) -> list:
    """Per case, dtype and mode: forward and forward+backward medians and their paired ratio."""
    rows = []
    print(f"{'case':17s} {'dtype':8s} {'mode':9s} {'forward_s':>9s} {'fwd+bwd_s':>9s} {'ratio':>6s} {'quartiles':>11s}")
    for case in options.cases.split(","):
        for dtype_name in options.dtypes.split(","):
            for mode in options.modes:
                row = _run_child(dict(task="ratio", case=case, dtype_name=dtype_name, mode=mode,
                                      repeats=options.repeats, device_name=options.device,
                                      memory_mb=options.memory_mb, fixed=options.fixed), options.timeout)
                row.update(case=case, dtype=dtype_name, mode=mode)
                rows.append(row)
                if "error" in row:
                    print(f"{case:17s} {dtype_name:8s} {mode:9s} ERROR {row['error']}")
                    continue
                low, high = row["ratio_quartiles"]
                print(f"{case:17s} {dtype_name:8s} {mode:9s} {row['forward_s']:9.3f} {row['forward_backward_s']:9.3f} "
                      f"{row['ratio']:6.2f} {low:5.2f}-{high:<5.2f}", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--passes", default="forward,forward+backward")
    parser.add_argument("--repeats", type=int, default=3, help="timed renders after the warm-up (median)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory-mb", type=float, default=None,
                        help="torch_sim memory budget per chunk (default: the library default)")
    parser.add_argument("--nanobragg", default=os.environ.get("NANOBRAGG_BIN"), help="nanoBragg executable")
    parser.add_argument("--c-reference", help="JSON of an earlier run: its nanoBragg times give the ratios")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement")
    parser.add_argument("--scaling", action="store_true", help="time vs evaluations instead of the table")
    parser.add_argument("--scaling-dtype", default="float32")
    parser.add_argument("--scaling-mode", default="compiled")
    parser.add_argument("--memory-sweep", action="store_true", help="peak memory vs mosaic domains")
    parser.add_argument("--backward-ratio", action="store_true",
                        help="forward+backward over forward, both timed alternately in one process")
    parser.add_argument("--fixed", default="",
                        help="comma-separated parameters held fixed (not differentiated) in forward+backward, e.g. "
                             "structure_factors,default_F")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="glibc keeps freed memory for reuse, as in the torch-sim command (torch_sim.heap)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.keep_freed_memory:
        _CHILD_OPTIONS.append("--keep-freed-memory")
    if options.child:
        if options.keep_freed_memory:
            from torch_sim.heap import keep_freed_memory

            keep_freed_memory()
        arguments = json.loads(options.child)
        task = measure_backward_ratio if arguments.pop("task", None) == "ratio" else measure
        print(json.dumps(task(**arguments)))
        return 0
    options.modes = options.modes.split(",")
    unknown = [case for case in options.cases.split(",") if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    options.fixed = [name for name in options.fixed.split(",") if name]
    import torch

    if options.fixed:
        # the realistic case (a structure-factor table) has every parameter a case can have
        known = _model("realistic_1024", "float64", "eager", "cpu", None, _replace(BASE, "-detpixels", "4")).params
        unknown = [name for name in options.fixed if name not in known]
        if unknown:
            parser.error(f"unknown parameter(s) for --fixed: {', '.join(unknown)}; known: {', '.join(known)}")

    threads = torch.get_num_threads()
    results = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "threads": threads,
               "torch": torch.__version__, "device": options.device}
    print(f"torch {torch.__version__}, {threads} threads, device {options.device}, {os.cpu_count()} CPUs")
    if options.fixed:
        print(f"held fixed in forward+backward: {', '.join(options.fixed)}")
    results["fixed"] = options.fixed
    if options.scaling:
        results["scaling"] = scaling(options)
    elif options.memory_sweep:
        results["memory_sweep"] = memory_sweep(options)
    elif options.backward_ratio:
        results["backward_ratio"] = backward_ratios(options)
    else:
        cases = options.cases.split(",")
        c_times = {}
        if options.c_reference:
            c_times = json.loads(Path(options.c_reference).read_text()).get("nanobragg_s", {})
        if options.nanobragg:
            for case in cases:
                c_times[case] = time_nanobragg(options.nanobragg, case, threads, options.repeats)
                print(f"nanoBragg {case}: {c_times[case]:.3f} s (OMP_NUM_THREADS={threads})")
        results["nanobragg_s"] = c_times
        rows = []
        print(HEADER)
        for case in cases:
            for dtype_name in options.dtypes.split(","):
                for mode in options.modes:
                    for pass_name in options.passes.split(","):
                        row = _run_child(dict(case=case, dtype_name=dtype_name, mode=mode, pass_name=pass_name,
                                              repeats=options.repeats, device_name=options.device,
                                              memory_mb=options.memory_mb, fixed=options.fixed), options.timeout)
                        row.update(case=case, dtype=dtype_name, mode=mode, passes=pass_name)
                        rows.append(row)
                        print(_format_row(row, c_times.get(case)), flush=True)
        results["rows"] = rows
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
