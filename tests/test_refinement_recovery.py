"""refine() recovers parameters of a synthetic image and validates its inputs before any work."""

import numpy as np
import pytest

import torch_sim
from refinement_cases import START_ARGS, TRUTH, truth_image
from torch_sim.errors import InputError
from torch_sim.refinement import refine


def test_recovers_three_parameters_from_a_noiseless_image():
    model = torch_sim.from_nanobragg_args(START_ARGS)
    result = refine(model, truth_image(), list(TRUTH), stages="none", max_iterations=60, progress=False)
    assert result.converged
    for name, value in TRUTH.items():
        assert result.values[name] == pytest.approx(value, abs=2e-4)
        assert float(model.params[name]) == pytest.approx(result.values[name])
    assert result.loss_history[-1] < 1e-3 * result.loss_history[0]
    assert np.allclose(np.diag(result.correlation), 1.0)
    assert all(0 < result.standard_errors[name] < 0.05 for name in TRUTH)


def test_least_squares_with_restraint_and_bounds():
    model = torch_sim.from_nanobragg_args(START_ARGS)
    observed = truth_image(noise_seed=3)
    result = refine(model, observed, ["distance", "beam_y"], loss="least_squares", stages="none",
                    bounds={"distance": (55.0, 65.0)}, restraints={"beam_y": (1.65, 0.001)},
                    max_iterations=40, progress=False, uncertainty="hessian")
    assert result.values["distance"] == pytest.approx(60.0, abs=0.05)
    assert result.values["beam_y"] == pytest.approx(1.65, abs=0.003)
    assert result.standard_errors["beam_y"] < 0.001


@pytest.mark.parametrize("change, message", [
    (dict(observed=np.zeros((32, 32))), "all zeros"),
    (dict(observed=np.ones((30, 32))), "is 30x32 pixels but the model renders 32x32"),
    (dict(observed=np.full((32, 32), np.nan)), "NaN or infinite"),
    (dict(params=["misset_x", "mystery"]), "unknown parameter 'mystery'"),
    (dict(params=["structure_factors"]), "unknown parameter"),
    (dict(bounds={"distance": (101.0, 102.0)}), "exclude the start value"),
    (dict(bounds={"cell_a": (60.0, 80.0)}), "not refined"),
    (dict(restraints={"distance": (100.0, -1.0)}), "positive width"),
    (dict(mask=np.zeros((32, 32))), "pass the mask"),
    (dict(loss="chi2"), "loss must be one of"),
    (dict(optimizer="sgd"), "optimizer must be one of"),
    (dict(adc_offset=1e6), "no photons"),
    (dict(stages=[{"params": ["distance"]}]), "no stage refines misset_x"),
])
def test_bad_inputs_are_one_line_input_errors(change, message, tmp_path):
    arguments = dict(observed=truth_image(), params=["misset_x", "distance"], progress=False,
                     run_folder=str(tmp_path / "run"))
    arguments.update(change)
    with pytest.raises(InputError, match=message) as error:
        refine(torch_sim.from_nanobragg_args(START_ARGS), **arguments)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_compiled_model_gives_the_same_values_and_standard_errors():
    results = []
    for compiled in (False, True):
        model = torch_sim.from_nanobragg_args(START_ARGS, compile=compiled)
        results.append(refine(model, truth_image(noise_seed=1), list(TRUTH), stages="none", max_iterations=40,
                              progress=False))
    for name in TRUTH:
        assert results[1].values[name] == pytest.approx(results[0].values[name], rel=1e-9)
        assert results[1].standard_errors[name] == pytest.approx(results[0].standard_errors[name], rel=1e-6)
