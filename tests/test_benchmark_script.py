"""The measurement functions of scripts/benchmark.py on a tiny render (the figures themselves are not tested)."""
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"
_spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
benchmark = sys.modules["benchmark_script"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

TINY = benchmark._replace(benchmark._replace(benchmark.BASE, "-detpixels", "12"), "-mosaic_domains", "2")


@pytest.mark.parametrize("pass_name", ["forward", "forward+backward"])
def test_measure_times_every_repeat_and_counts_evaluations(pass_name):
    row = benchmark.measure("realistic_1024", "float64", "eager", pass_name, repeats=2, device_name="cpu",
                            memory_mb=None, argv=TINY)
    assert len(row["times_s"]) == 2 and all(t > 0.0 for t in row["times_s"])
    assert row["median_s"] == pytest.approx(sum(row["times_s"]) / 2)
    # 12 x 12 pixels x 2 domains x the oversampling the C program picks for this geometry
    model = benchmark._model("realistic_1024", "float64", "eager", "cpu", None, TINY)
    assert row["evaluations"] == 144 * 2 * model.config.detector.oversample ** 2
    assert row["evaluations_per_s"] == pytest.approx(row["evaluations"] / row["median_s"])


def test_timed_render_leaves_gradients_only_after_a_backward_pass():
    model = benchmark._model("realistic_1024", "float64", "eager", "cpu", None, TINY)
    benchmark._timed_render(model, True)
    assert all(value.grad is not None for value in model.params.values())
    benchmark._timed_render(model, False)
    assert all(value.grad is None and not value.requires_grad for value in model.params.values())


def test_backward_ratio_pairs_the_two_passes():
    row = benchmark.measure_backward_ratio("realistic_1024", "float64", "eager", repeats=3, device_name="cpu",
                                           memory_mb=None, argv=TINY)
    forward, both = row["forward_times_s"], row["forward_backward_times_s"]
    assert len(forward) == len(both) == 3
    ratios = sorted(b / f for f, b in zip(forward, both))
    assert row["ratio"] == pytest.approx(ratios[1])
    low, high = row["ratio_quartiles"]
    assert low <= row["ratio"] <= high


def test_fixed_parameters_get_no_gradient_and_the_rest_do():
    model = benchmark._model("realistic_1024", "float64", "eager", "cpu", None, TINY)
    fixed = ("structure_factors", "wavelength")
    benchmark._timed_render(model, True, fixed)
    for name, value in model.params.items():
        assert (value.grad is None) == (name in fixed), name
    # a name the model lacks (no table here) is ignored
    without_table = benchmark._model("oversample2_1024", "float64", "eager", "cpu", None,
                                     benchmark._replace(benchmark.CASES["oversample2_1024"], "-detpixels", "8"))
    assert "structure_factors" not in without_table.params
    benchmark._timed_render(without_table, True, fixed)
    assert without_table.params["wavelength"].grad is None and without_table.params["distance"].grad is not None


def test_backward_ratio_records_the_fixed_parameters():
    row = benchmark.measure_backward_ratio("realistic_1024", "float64", "eager", repeats=1, device_name="cpu",
                                           memory_mb=None, argv=TINY, fixed=["structure_factors"])
    assert row["fixed"] == ["structure_factors"] and len(row["forward_backward_times_s"]) == 1


def test_an_unknown_fixed_parameter_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["benchmark.py", "--backward-ratio", "--fixed", "wavelength,cell_size"])
    with pytest.raises(SystemExit) as stop:
        benchmark.main()
    assert stop.value.code == 2
    assert "unknown parameter(s) for --fixed: cell_size;" in capsys.readouterr().err
