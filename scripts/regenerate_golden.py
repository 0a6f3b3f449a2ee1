#!/usr/bin/env python3
"""Re-run the nanoBragg C golden cases with your own executable and compare with golden_data.

    python scripts/regenerate_golden.py --nanobragg PATH --out DIR [--cases NAME ...]
                                        [--gradients] [--threads N]

The runs are described by c_reference/cases.json (see c_reference/README.md). Exit status:
0 when every run succeeded (changed outputs are reported, not failures), 1 when a run
failed, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES_JSON = ROOT / "c_reference" / "cases.json"
VARYING_STDOUT = re.compile(r"^mmap\(.*\) = 0x[0-9a-fA-F]+$")  # heap address of a mapped file
COLUMNS = ("float", "int", "noise", "pgm", "Fdump", "stdout")


@dataclass
class Run:
    """One execution of nanoBragg."""

    name: str  # case name, or gradients/<image stem>
    args: list[str]
    inputs: list[str]  # file names in <golden>/inputs
    outputs: list[str]  # files to collect; stdout.txt is the captured standard output
    folder: str  # where the outputs go, relative to the output folder and to the golden folder


def load_spec(path: Path = CASES_JSON) -> dict:
    """The contents of cases.json."""
    return json.loads(Path(path).read_text())


def case_runs(spec: dict, names: list[str] | None = None) -> list[Run]:
    """The runs of the named cases (all when names is None), in cases.json order."""
    return [
        Run(c["name"], c["args"], c["inputs"], c["outputs"], f"cases/{c['name']}")
        for c in spec["cases"]
        if names is None or c["name"] in names
    ]


def varied_args(base: list[str], flag: str, index: int, value: float) -> list[str]:
    """base with the index-th value after flag replaced by repr(value)."""
    args = list(base)
    args[args.index(flag) + 1 + index] = repr(value)
    return args


def gradient_runs(spec: dict) -> list[Run]:
    """The centre run and the value-h, value+h runs of every parameter of the gradients section."""
    grad = spec["gradients"]

    def run(image: str, args: list[str], outputs: list[str]) -> Run:
        tail = [a.replace("{image}", image) for a in grad["image_args"]]
        return Run(f"gradients/{Path(image).stem}", args + tail, [], outputs, "gradients")

    runs = [run(grad["center"], grad["base_args"], [grad["center"], "stdout.txt"])]
    for param, p in grad["params"].items():
        for suffix, sign in (("minus", -1), ("plus", 1)):
            image = f"{param}_{suffix}.bin"
            args = varied_args(grad["base_args"], p["flag"], p["index"], p["value"] + sign * p["h"])
            runs.append(run(image, args, [image]))
    return runs


def execute(run: Run, exe: str, golden: Path, out: Path, env: dict | None) -> tuple[float | None, str | None]:
    """Run in a fresh folder holding only the run's inputs; move its outputs into out/run.folder.

    Returns (seconds, error), error being None on success. A failed run moves nothing.
    """
    work = Path(tempfile.mkdtemp(prefix=".run-", dir=out))  # same file system: renames are atomic
    try:
        for name in run.inputs:
            shutil.copyfile(golden / "inputs" / name, work / name)
        start = time.perf_counter()
        try:
            proc = subprocess.run([exe, *run.args], cwd=work, env=env, capture_output=True)
        except OSError as exc:
            return None, str(exc)
        seconds = time.perf_counter() - start
        (work / "stdout.txt").write_bytes(proc.stdout)
        missing = [name for name in run.outputs if not (work / name).is_file()]
        if proc.returncode or missing:
            error = f"exit status {proc.returncode}" if proc.returncode else "no " + " ".join(missing)
            said = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
            return seconds, error + (f": {said[-1]}" if said else "")
        dest = out / run.folder
        dest.mkdir(parents=True, exist_ok=True)
        for name in run.outputs:
            os.replace(work / name, dest / name)
        return seconds, None
    finally:
        shutil.rmtree(work)


def kind(name: str) -> str:
    """The report column of an output file."""
    if name == "stdout.txt":
        return "stdout"
    if name == "Fdump.bin":
        return "Fdump"
    if name.endswith(".bin"):
        return "float"
    if name.endswith(".pgm"):
        return "pgm"
    return "noise" if name.startswith("noise") else "int"


def float_stats(new: bytes, old: bytes) -> dict:
    """max |new - old|, that over max |old|, and the correlation of two float32 images."""
    a, b = (np.frombuffer(x, "<f4").astype(np.float64) for x in (new, old))
    if a.size != b.size:
        return {"size": f"{a.size} pixels, golden {b.size}"}
    diff = float(np.abs(a - b).max(initial=0.0))
    peak = float(np.abs(b).max(initial=0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(a, b)[0, 1])
    return {"max_abs": diff, "max_rel": diff / peak if peak else float("nan"), "corr": corr}


def smv_stats(new: bytes, old: bytes) -> dict:
    """Whether two SMV images have identical headers, and the fraction of identical pixels."""

    def split(data: bytes) -> tuple[bytes, np.ndarray]:
        found = re.search(rb"HEADER_BYTES=\s*(\d+)", data[:512])
        size = int(found.group(1)) if found else 512
        body = data[size:]
        return data[:size], np.frombuffer(body[: len(body) // 2 * 2], np.uint16)

    (head_a, pix_a), (head_b, pix_b) = split(new), split(old)
    if pix_a.size != pix_b.size:
        return {"header_same": head_a == head_b, "size": f"{pix_a.size} pixels, golden {pix_b.size}"}
    return {"header_same": head_a == head_b, "same_pixels": float(np.mean(pix_a == pix_b))}


def stdout_diff(new: bytes, old: bytes) -> list[str]:
    """Differing lines ('-' golden, '+' new), ignoring lines that vary from run to run."""

    def lines(data: bytes) -> list[str]:
        return [s for s in data.decode(errors="replace").splitlines() if not VARYING_STDOUT.match(s)]

    diff = list(difflib.unified_diff(lines(old), lines(new), lineterm="", n=0))[2:]
    return [s for s in diff if not s.startswith("@@")]


def compare_output(new_path: Path, golden_path: Path) -> tuple[str, dict]:
    """('same' | 'changed' | 'new', details) for one output against its golden file."""
    if not golden_path.is_file():
        return "new", {}
    new, old = new_path.read_bytes(), golden_path.read_bytes()
    column = kind(new_path.name)
    if column == "stdout":
        lines = stdout_diff(new, old)
        return ("changed" if lines else "same"), {"lines": lines}
    if new == old:
        return "same", {}
    if column == "float":
        return "changed", float_stats(new, old)
    if column in ("int", "noise"):
        return "changed", smv_stats(new, old)
    if len(new) != len(old):
        return "changed", {"size": f"{len(new)} bytes, golden {len(old)}"}
    differ = int(np.count_nonzero(np.frombuffer(new, np.uint8) != np.frombuffer(old, np.uint8)))
    return "changed", {"bytes_differ": differ}


def describe(details: dict) -> list[str]:
    """Report lines for the details of a changed output."""
    if "lines" in details:
        return [f"{len(details['lines'])} differing lines"] + ["    " + s for s in details["lines"]]
    parts = []
    if "max_abs" in details:
        parts.append(f"max|d|={details['max_abs']:.3g} rel={details['max_rel']:.3g} corr={details['corr']:.9f}")
    if "header_same" in details:
        parts.append("header " + ("identical" if details["header_same"] else "differs"))
    if "same_pixels" in details:
        parts.append(f"{100 * details['same_pixels']:.3f}% pixels identical")
    if "bytes_differ" in details:
        parts.append(f"{details['bytes_differ']} bytes differ")
    if "size" in details:
        parts.append(details["size"])
    return ["; ".join(parts)]


def write_manifest(out: Path, spec: dict, exe: str, timings: dict) -> None:
    """Write out/manifest.json in the golden format, keeping entries of cases not run now."""
    path = out / "manifest.json"
    cases = json.loads(path.read_text())["cases"] if path.is_file() else {}
    for c in spec["cases"]:
        if c["name"] in timings:
            seconds, ok = timings[c["name"]]
            cases[c["name"]] = {
                "what": c["what"],
                "inputs": c["inputs"],
                "outputs": c["manifest_outputs"],
                "seconds": None if seconds is None else round(seconds, 3),
                "ok": ok,
            }
    temporary = out / ".manifest.json.tmp"
    temporary.write_text(json.dumps({"generator": f"nanoBragg executable {exe}", "cases": cases}, indent=1) + "\n")
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanobragg", default=os.environ.get("NANOBRAGG_BIN"),
                        help="nanoBragg executable (default: $NANOBRAGG_BIN)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the regenerated data")
    parser.add_argument("--cases", nargs="+", metavar="NAME", help="cases to run (default: all)")
    parser.add_argument("--gradients", action="store_true", help="also regenerate the gradient images")
    parser.add_argument("--threads", type=int, help="set OMP_NUM_THREADS for nanoBragg")
    args = parser.parse_args(argv)

    def usage_error(message: str) -> int:
        print(f"regenerate_golden.py: error: {message}", file=sys.stderr)
        return 2

    if not args.nanobragg:
        return usage_error("no nanoBragg executable: give --nanobragg PATH or set NANOBRAGG_BIN")
    exe = shutil.which(args.nanobragg)
    if exe is None:
        return usage_error(f"not an executable file: {args.nanobragg}")
    spec = load_spec()
    unknown = sorted(set(args.cases or []) - {c["name"] for c in spec["cases"]})
    if unknown:
        return usage_error(f"unknown case: {' '.join(unknown)} (see c_reference/cases.json)")

    exe = os.path.abspath(exe)
    env = None if args.threads is None else {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    golden = ROOT / spec["golden"]
    args.out.mkdir(parents=True, exist_ok=True)
    runs = case_runs(spec, args.cases) + (gradient_runs(spec) if args.gradients else [])

    width = max(len("run"), *(len(run.name) for run in runs))
    print(f"{'run':<{width}}  {'seconds':>7}  " + "  ".join(f"{c:<7}" for c in COLUMNS).rstrip())
    timings, changed, failed = {}, [], []
    for run in runs:
        seconds, error = execute(run, exe, golden, args.out, env)
        timings[run.name] = (seconds, error is None)
        shown = "-" if seconds is None else f"{seconds:.3f}"
        if error:
            failed.append(run.name)
            print(f"{run.name:<{width}}  {shown:>7}  FAILED: {error}", flush=True)
            continue
        cells = dict.fromkeys(COLUMNS, "-")
        for name in run.outputs:
            status, details = compare_output(args.out / run.folder / name, golden / run.folder / name)
            cells[kind(name)] = status
            if status == "changed":
                changed.append((f"{run.folder}/{name}", details))
        print(f"{run.name:<{width}}  {shown:>7}  " + "  ".join(f"{cells[c]:<7}" for c in COLUMNS).rstrip(), flush=True)

    write_manifest(args.out, spec, exe, timings)
    if changed:
        print("\nchanged outputs:")
    for path, details in changed:
        first, *rest = describe(details)
        print(f"  {path}: {first}")
        for line in rest:
            print("  " + line)
    print(f"\n{len(runs)} runs, {len(failed)} failed, {len(changed)} outputs changed; output in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
