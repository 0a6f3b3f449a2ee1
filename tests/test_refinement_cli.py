"""``torch-sim refine`` end to end on a tiny case, and its bad-input errors (exit 2, one line, no run folder)."""

import json

import numpy as np
import pytest

from refinement_cases import START_ARGS, truth_image
from torch_sim.cli.main import main
from torch_sim.io import write_float_image


@pytest.fixture
def observed(tmp_path):
    path = tmp_path / "observed.bin"
    write_float_image(path, truth_image(noise_seed=2).numpy() + 40.0)
    return path


def test_cli_refines_and_writes_the_run_folder(observed, tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["refine", "--observed", str(observed), "--shape", "32", "32", "--adc", "40",
                   "--params", "misset_x,distance,beam_y", "--stages", "none", "--max-iterations", "30",
                   "--bounds", "distance=55:", "--restraint", "misset_x=10:1", "--no-progress", "--out", str(out),
                   "--", *START_ARGS])
    printed = capsys.readouterr().out
    assert status == 0
    assert "misset_x" in printed and f"run folder: {out}" in printed
    result = json.loads((out / "result.json").read_text())
    for name, truth in (("distance", 60.0), ("misset_x", 10.0), ("beam_y", 1.65)):
        assert abs(result["values"][name] - truth) < 4 * result["standard_errors"][name]
    assert (out / "final_args.txt").exists()


def test_cli_help(capsys):
    assert main(["refine", "--help"]) == 0
    assert "--observed" in capsys.readouterr().out


def _write(path, image):
    write_float_image(path, np.asarray(image, dtype=np.float32))
    return str(path)


@pytest.mark.parametrize("case, message", [
    ("unknown_parameter", "unknown parameter 'cell_q'"),
    ("bounds_exclude_start", "exclude the start value"),
    ("wrong_shape", "need"),
    ("all_zero", "all zeros"),
    ("nan", "NaN or infinite"),
    ("no_shape", "needs --shape"),
    ("missing_file", "cannot read"),
    ("bad_option", "unrecognized arguments"),
    ("bad_restraint", "positive width"),
    ("bad_bounds_syntax", "expected NAME=A:B"),
    ("no_model", "after '--'"),
    ("bad_model_flag", "unknown flag"),
    ("bad_stages_file", "cannot read stage file"),
    ("zero_iterations", "max-iterations"),
])
def test_cli_bad_inputs_exit_2_with_one_line_and_no_run_folder(case, message, observed, tmp_path, capsys):
    out = tmp_path / "run"
    image = ["--observed", str(observed), "--shape", "32", "32"]
    params = ["--params", "misset_x,distance"]
    model = ["--", *START_ARGS]
    arguments = {
        "unknown_parameter": [*image, "--params", "misset_x,cell_q", *model],
        "bounds_exclude_start": [*image, *params, "--bounds", "distance=50:55", *model],
        "wrong_shape": ["--observed", str(observed), "--shape", "30", "32", *params, *model],
        "all_zero": ["--observed", _write(tmp_path / "zero.bin", np.zeros((32, 32))), "--shape", "32", "32", *params, *model],
        "nan": ["--observed", _write(tmp_path / "nan.bin", np.full((32, 32), np.nan)), "--shape", "32", "32", *params,
                *model],
        "no_shape": ["--observed", str(observed), *params, *model],
        "missing_file": ["--observed", str(tmp_path / "absent.img"), *params, *model],
        "bad_option": [*image, *params, "--frobnicate", *model],
        "bad_restraint": [*image, *params, "--restraint", "distance=60:0", *model],
        "bad_bounds_syntax": [*image, *params, "--bounds", "distance", *model],
        "no_model": [*image, *params],
        "bad_model_flag": [*image, *params, "--", *START_ARGS, "-frobnicate"],
        "bad_stages_file": [*image, *params, "--stages", str(tmp_path / "absent.json"), *model],
        "zero_iterations": [*image, *params, "--max-iterations", "0", *model],
    }[case]
    status = main(["refine", "--out", str(out), "--no-progress", *arguments])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert not out.exists() and not (tmp_path / "run.incomplete").exists()
