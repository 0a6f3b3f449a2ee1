"""Tests of c_reference/cases.json and scripts/regenerate_golden.py, with a fake nanoBragg."""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "regenerate_golden.py"
GOLDEN = ROOT / "golden_data" / "nanobragg_c"

_spec = importlib.util.spec_from_file_location("regenerate_golden", SCRIPT)
regen = sys.modules["regenerate_golden"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)
SPEC = regen.load_spec()
CASES = {c["name"]: c for c in SPEC["cases"]}

FAKE = """#!{python}
import hashlib, json, os, shutil, struct, sys
from pathlib import Path
args = sys.argv[1:]
entry = json.loads(Path({plan!r}).read_text()).get("\\0".join(args))
with open({log!r}, "a") as log:
    files = {{p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path.cwd().iterdir()}}
    log.write(json.dumps({{"args": args, "cwd": os.getcwd(), "files": files,
                          "threads": os.environ.get("OMP_NUM_THREADS")}}) + "\\n")
if entry is None:
    sys.exit("fake nanoBragg: unexpected arguments")
if entry["stdout"]:
    sys.stdout.buffer.write(Path(entry["stdout"]).read_bytes())
for name, source in entry["files"].items():
    shutil.copyfile(source, name)
if os.environ.get("FAKE_FAIL") == entry["name"]:
    sys.exit("ERROR: boom")
if os.environ.get("FAKE_PERTURB") == entry["name"]:
    with open("floatimage.bin", "r+b") as f:
        f.seek(4 * 10)
        f.write(struct.pack("<f", 1000.0))
"""


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def expected_gradient_args():
    """image name -> argument list, formed from gradients/command.txt and steps.json."""
    base = (GOLDEN / "gradients" / "command.txt").read_text().splitlines()
    runs = {"center.bin": base + ["-floatfile", "center.bin", "-nonoise"]}
    for param, p in json.loads((GOLDEN / "gradients" / "steps.json").read_text()).items():
        for suffix, value in (("minus", p["value"] - p["h"]), ("plus", p["value"] + p["h"])):
            args = list(base)
            args[base.index(p["flag"]) + 1 + p["index"]] = str(value)
            runs[f"{param}_{suffix}.bin"] = args + ["-floatfile", f"{param}_{suffix}.bin", "-nonoise"]
    return runs


@pytest.fixture
def fake(tmp_path):
    """A fake nanoBragg that logs each call and writes the golden outputs of the matching case."""
    plan = {}
    for name, case in CASES.items():
        folder = GOLDEN / "cases" / name
        files = {o: str(folder / o) for o in case["outputs"] if o != "stdout.txt"}
        plan["\0".join(case["args"])] = {"name": name, "files": files, "stdout": str(folder / "stdout.txt")}
    for image, args in expected_gradient_args().items():
        stdout = str(GOLDEN / "gradients" / "stdout.txt") if image == "center.bin" else ""
        plan["\0".join(args)] = {"name": image, "files": {image: str(GOLDEN / "gradients" / image)}, "stdout": stdout}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    exe = tmp_path / "nanoBragg"
    plan_path, log_path = str(tmp_path / "plan.json"), str(tmp_path / "log.jsonl")
    exe.write_text(FAKE.format(python=sys.executable, plan=plan_path, log=log_path))
    exe.chmod(0o755)
    return exe


def calls(tmp_path):
    log = tmp_path / "log.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_cases_json_agrees_with_golden_data():
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    folders = {p.name for p in (GOLDEN / "cases").iterdir() if p.is_dir()}
    assert list(CASES) == list(manifest["cases"])
    assert set(CASES) == folders
    assert (ROOT / SPEC["golden"]).resolve() == GOLDEN.resolve()
    for name, case in CASES.items():
        folder = GOLDEN / "cases" / name
        entry = manifest["cases"][name]
        assert case["args"] == (folder / "command.txt").read_text().splitlines(), name
        assert case["what"] == entry["what"] and case["inputs"] == entry["inputs"]
        assert case["manifest_outputs"] == entry["outputs"]
        assert case["outputs"][-1] == "stdout.txt"
        for extra in {p.name for p in folder.iterdir()} - set(case["outputs"]) - {"command.txt"}:
            assert extra in case["inputs"], (name, extra)  # a copy of an input, e.g. matrix_file/A.mat
            assert sha(folder / extra) == sha(GOLDEN / "inputs" / extra)
        for output in case["outputs"]:
            assert (folder / output).is_file(), (name, output)
        for name_in in case["inputs"]:
            assert (GOLDEN / "inputs" / name_in).is_file()
    grad = SPEC["gradients"]
    assert grad["base_args"] == (GOLDEN / "gradients" / "command.txt").read_text().splitlines()
    assert grad["params"] == json.loads((GOLDEN / "gradients" / "steps.json").read_text())
    runs = regen.gradient_runs(SPEC)
    assert {r.name: r.args for r in runs} == {f"gradients/{i[:-4]}": a for i, a in expected_gradient_args().items()}
    for run in runs:
        assert all((GOLDEN / "gradients" / o).is_file() for o in run.outputs)


def test_gradient_values_are_written_as_short_decimals():
    args = {r.name: r.args for r in regen.gradient_runs(SPEC)}
    cell = args["gradients/cell_a_minus"].index("-cell")
    assert args["gradients/cell_a_minus"][cell + 1 : cell + 7] == ["69.99", "80", "90", "75", "85", "95"]
    assert args["gradients/Xbeam_plus"][args["gradients/Xbeam_plus"].index("-Xbeam") + 1] == "6.302"
    assert args["gradients/center"][-3:] == ["-floatfile", "center.bin", "-nonoise"]


def test_all_cases_run_exactly_in_fresh_folders(fake, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setenv("NANOBRAGG_BIN", str(fake))
    assert regen.main(["--out", str(out), "--threads", "3"]) == 0
    log = calls(tmp_path)
    assert [c["args"] for c in log] == [c["args"] for c in CASES.values()]
    assert len({c["cwd"] for c in log}) == len(log)
    for call, case in zip(log, CASES.values()):
        assert call["files"] == {i: sha(GOLDEN / "inputs" / i) for i in case["inputs"]}
        assert call["threads"] == "3"
        assert not Path(call["cwd"]).exists()
        assert sorted(p.name for p in (out / "cases" / case["name"]).iterdir()) == sorted(case["outputs"])
        for output in case["outputs"]:
            assert sha(out / "cases" / case["name"] / output) == sha(GOLDEN / "cases" / case["name"] / output)
    assert sorted(p.name for p in out.iterdir()) == ["cases", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    golden_manifest = json.loads((GOLDEN / "manifest.json").read_text())
    assert list(manifest["cases"]) == list(golden_manifest["cases"])
    for name, entry in manifest["cases"].items():
        assert list(entry) == list(golden_manifest["cases"][name])
        assert entry["ok"] is True and entry["seconds"] >= 0
        assert entry["outputs"] == golden_manifest["cases"][name]["outputs"]
    assert "45 runs, 0 failed, 0 outputs changed" in capsys.readouterr().out


def test_gradients_run(fake, tmp_path, capsys):
    out = tmp_path / "out"
    assert regen.main(["--nanobragg", str(fake), "--out", str(out), "--cases", "roi", "--gradients"]) == 0
    expected = expected_gradient_args()
    log = calls(tmp_path)
    assert [c["args"] for c in log] == [CASES["roi"]["args"], *expected.values()]
    assert all(c["files"] == {} and c["threads"] is None for c in log[1:])
    assert sorted(p.name for p in (out / "gradients").iterdir()) == sorted([*expected, "stdout.txt"])
    for name in [*expected, "stdout.txt"]:
        assert sha(out / "gradients" / name) == sha(GOLDEN / "gradients" / name)
    assert "42 runs, 0 failed, 0 outputs changed" in capsys.readouterr().out


def test_perturbed_float_image_is_reported(fake, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setenv("FAKE_PERTURB", "roi")
    assert regen.main(["--nanobragg", str(fake), "--out", str(out), "--cases", "roi", "na_nb_nc"]) == 0
    golden = np.fromfile(GOLDEN / "cases" / "roi" / "floatimage.bin", "<f4").astype(np.float64)
    max_abs = abs(1000.0 - golden[10])
    stats = regen.float_stats((out / "cases/roi/floatimage.bin").read_bytes(),
                              (GOLDEN / "cases/roi/floatimage.bin").read_bytes())
    assert stats["max_abs"] == pytest.approx(max_abs, rel=1e-12)
    assert stats["max_rel"] == pytest.approx(max_abs / np.abs(golden).max(), rel=1e-12)
    assert stats["corr"] < 1
    report = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[2:] for line in report.splitlines()[1:3]}
    assert rows["na_nb_nc"] == ["same", "same", "-", "-", "-", "same"]
    assert rows["roi"] == ["changed", "same", "-", "-", "-", "same"]
    assert f"cases/roi/floatimage.bin: max|d|={max_abs:.3g} " in report
    assert "2 runs, 0 failed, 1 outputs changed" in report


@pytest.mark.parametrize("how", ["missing", "not executable", "unset"])
def test_missing_executable_is_a_usage_error(how, tmp_path, monkeypatch):
    monkeypatch.delenv("NANOBRAGG_BIN", raising=False)
    exe = tmp_path / "nanoBragg"
    if how == "not executable":
        exe.write_text("")
    option = [] if how == "unset" else ["--nanobragg", str(exe)]
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "out"), *option],
                            capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unknown_case_is_a_usage_error(fake, tmp_path, capsys):
    assert regen.main(["--nanobragg", str(fake), "--out", str(tmp_path / "out"), "--cases", "roi", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err
    assert calls(tmp_path) == []


def test_failing_case_leaves_no_partial_output(fake, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert regen.main(["--nanobragg", str(fake), "--out", str(out), "--cases", "roi"]) == 0
    before = {p.name: sha(p) for p in (out / "cases" / "roi").iterdir()}
    monkeypatch.setenv("FAKE_FAIL", "roi")
    assert regen.main(["--nanobragg", str(fake), "--out", str(out), "--cases", "roi", "dmin_cut"]) == 1
    assert {p.name: sha(p) for p in (out / "cases" / "roi").iterdir()} == before
    monkeypatch.setenv("FAKE_FAIL", "na_nb_nc")
    assert regen.main(["--nanobragg", str(fake), "--out", str(out), "--cases", "na_nb_nc"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["cases", "manifest.json"]
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["dmin_cut", "roi"]
    manifest = json.loads((out / "manifest.json").read_text())["cases"]
    ok = {name: entry["ok"] for name, entry in manifest.items()}
    assert ok == {"roi": False, "dmin_cut": True, "na_nb_nc": False}
    assert "FAILED: exit status 1: ERROR: boom" in capsys.readouterr().out


def test_stdout_comparison_ignores_pointer_lines():
    old = b"start\nmmap(mask.img) = 0x55d35956b8e0\nmax_I = 1\nend\n"
    new = b"start\nmmap(mask.img) = 0x5595ec9e68e0\nmax_I = 2\nend\n"
    assert regen.stdout_diff(old.replace(b"0x55d3", b"0x7f00"), old) == []
    assert regen.stdout_diff(new, old) == ["-max_I = 1", "+max_I = 2"]


def test_smv_comparison():
    old = (GOLDEN / "cases" / "noise_seeded" / "noiseimage.img").read_bytes()
    pixel = bytearray(old)
    pixel[512 + 2 * 7] ^= 1
    stats = regen.smv_stats(bytes(pixel), old)
    assert stats == {"header_same": True, "same_pixels": pytest.approx(1 - 1 / 128**2)}
    header = bytearray(old)
    header[100] ^= 1
    assert regen.smv_stats(bytes(header), old) == {"header_same": False, "same_pixels": 1.0}
