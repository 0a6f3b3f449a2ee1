"""Refined values back to nanoBragg command lines: args -> model -> export -> model round trips."""

import pytest
import torch

import torch_sim
from golden import case_args, stage_inputs
from torch_sim.refinement import export_nanobragg_args, nanobragg_args_from_model
from torch_sim.refinement.argv_groups import argument_groups
from torch_sim.refinement.export_args import export_mismatches

#: Changes applied to every parameter the model has (command-line units).
CHANGES = {"cell_a": 0.13, "cell_beta": -0.21, "misset_x": 0.31, "misset_z": -0.07, "N_a": 1.3, "N_b": 0.2,
           "distance": 0.52, "close_distance": 0.41, "beam_x": 0.051, "beam_y": -0.033, "twotheta": 0.4,
           "wavelength": 0.001, "mosaic_spread": 0.05, "detector_roty": 0.1, "polarization": 0.01,
           "fluence": 1e27, "dispersion": 0.1, "hdivrange": 0.05, "phi_start": 0.1, "pixel_size": 0.001,
           "water_size": 1.0, "detector_thickness": 5.0, "detector_abs_depth": 7.0, "default_F": 2.0}
CASES_TO_EXPORT = ["twotheta_mosflm", "xds_close_distance", "dials_rotated", "adxv_beam_center",
                   "denzo_beam_center", "custom_vectors", "mosflm_beam_center_pivot_sample", "matrix_file",
                   "misset_random", "xtalsize", "energy_flux", "nopolar", "detector_absorption", "dispersion",
                   "divergence_round", "water_background", "phi_rotation", "mosaic_12", "img_header_ingest"]


@pytest.fixture
def in_case_folder(tmp_path, monkeypatch):
    def enter(name):
        stage_inputs(name, tmp_path)
        monkeypatch.chdir(tmp_path)
        return case_args(name)
    return enter


@pytest.mark.parametrize("name", CASES_TO_EXPORT)
def test_changed_values_round_trip(name, in_case_folder, tmp_path):
    argv = in_case_folder(name)
    model = torch_sim.from_nanobragg_args(argv)
    with torch.no_grad():
        for key, change in CHANGES.items():
            if key in model.params:
                model.params[key] += change
    exported = nanobragg_args_from_model(model, argv, str(tmp_path / "refined.mat"))
    assert export_mismatches(model, exported) == []
    if name == "matrix_file":
        assert "-mat" in exported and str(tmp_path / "refined.mat") in exported and "-cell" not in exported


@pytest.mark.parametrize("name", ["triclinic_misset_hkl", "xds_close_distance", "matrix_file", "misset_random"])
def test_unchanged_model_exports_its_own_command(name, in_case_folder):
    argv = in_case_folder(name)
    assert export_nanobragg_args(torch_sim.from_nanobragg_args(argv), argv).argv == argv


def test_units_and_meanings(in_case_folder):
    argv = in_case_folder("xds_close_distance")
    model = torch_sim.from_nanobragg_args(argv)
    with torch.no_grad():
        model.params["beam_x"].fill_(7.05)
        model.params["N_a"].fill_(4.6)
    exported = export_nanobragg_args(model, argv)
    orgx = float(exported.argv[exported.argv.index("-ORGX") + 1])
    assert orgx == pytest.approx(7.05 / 0.1 + 0.5)
    assert "-Na" in exported.argv and exported.argv[exported.argv.index("-Na") + 1] == "5"
    assert any("integer" in note for note in exported.notes)
    assert "-xds" in exported.argv and "-close_distance" in exported.argv


def test_custom_pivot_is_kept():
    argv = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "1", "-pivot", "sample",
            "-fdet_vector", "0", "0", "1", "-detpixels", "16"]
    model = torch_sim.from_nanobragg_args(argv)
    with torch.no_grad():
        model.params["distance"] += 1.0
        model.params["beam_x"] += 0.1
    exported = export_nanobragg_args(model, argv).argv
    assert export_mismatches(model, exported) == []


def test_argument_groups_follow_substring_matching():
    groups = argument_groups(["-misset_seed", "-777", "-misset", "random", "-twotheta_axis", "0", "1", "0"])
    assert [g.flag for g in groups] == ["-misset_seed", "-misset", "-twotheta_axis"]
    assert "misset_deg" in groups[0].fields and "misset_seed" in groups[0].fields
    assert groups[1].fields == {"misset_random"}
    assert {"twotheta_axis", "twotheta_deg"} <= groups[2].fields
