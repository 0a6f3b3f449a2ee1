"""The run folder: every file present and readable, final_args.txt re-parses to the refined values."""

import importlib
import json
import shlex

import pytest

import torch_sim
from refinement_cases import START_ARGS, TRUTH, truth_image
from torch_sim.refinement import refine

#: The module (the package's ``refine`` attribute is the function of the same name).
refine_module = importlib.import_module("torch_sim.refinement.refine")

FILES = {"config.json", "environment.json", "metrics.jsonl", "result.json", "summary.txt", "final_args.txt",
         "images.png", "loss.png", "parameters.png"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "run"
    model = torch_sim.from_nanobragg_args(START_ARGS)
    result = refine(model, truth_image(noise_seed=1), list(TRUTH) + ["N_a"], stages="default", max_iterations=15,
                    run_folder=str(folder), progress=False, seed=7, base_argv=START_ARGS)
    return folder, result


def test_every_file_is_written_and_the_folder_is_complete(run):
    folder, result = run
    assert {p.name for p in folder.iterdir()} == FILES
    assert result.run_folder == str(folder)
    assert not folder.with_name("run.incomplete").exists()
    for name in ("images.png", "loss.png", "parameters.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_config_environment_and_result(run):
    folder, result = run
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == result.iterations + 1
    assert lines[0]["stage"] == "start"
    for line in lines[1:]:
        assert {"stage", "iteration", "loss", "values", "gradient_norm", "wall_time_s"} <= set(line)
        assert set(line["values"]) == set(result.names)
    assert lines[-1]["loss"] == pytest.approx(result.loss_history[-1])
    config = json.loads((folder / "config.json").read_text())
    assert config["nanobragg_args"] == START_ARGS and config["refinement"]["params"] == result.names
    assert config["model"]["detector"]["convention"] == "mosflm"
    environment = json.loads((folder / "environment.json").read_text())
    assert environment["seed"] == 7 and environment["dtype"] == "float64" and environment["torch"]
    saved = json.loads((folder / "result.json").read_text())
    assert saved["values"] == pytest.approx(result.values)
    assert len(saved["correlation"]) == len(result.names)
    assert any("integer" in note for note in saved["export"]["notes"])
    assert saved["export"]["mismatches"] == []


def test_final_args_reparse_to_the_refined_values(run):
    folder, result = run
    argv = shlex.split((folder / "final_args.txt").read_text())
    params = torch_sim.from_nanobragg_args(argv).params
    for name in TRUTH:
        assert float(params[name]) == pytest.approx(result.values[name], rel=1e-12)
    assert float(params["N_a"]) == round(result.values["N_a"])


def test_a_failed_run_is_left_marked_incomplete(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(refine_module, "_write_outputs", broken)
    with pytest.raises(RuntimeError):
        refine(torch_sim.from_nanobragg_args(START_ARGS), truth_image(), ["beam_y"], stages="none",
               max_iterations=2, run_folder=str(tmp_path / "run"), progress=False)
    assert not (tmp_path / "run").exists()
    assert "disk full" in (tmp_path / "run.incomplete" / "INCOMPLETE").read_text()
    assert (tmp_path / "run.incomplete" / "metrics.jsonl").read_text()
