"""MOSFLM matrix files, source files and the C ``atof`` they rely on."""

import math
from pathlib import Path

import numpy as np
import pytest

from torch_sim.errors import InputError
from torch_sim.io import read_mosflm_matrix, read_source_file
from torch_sim.config.c_numbers import c_atof

GOLDEN = Path(__file__).resolve().parents[1] / "golden_data" / "nanobragg_c"


def test_mosflm_matrix_rows_are_components_columns_are_vectors():
    matrix = read_mosflm_matrix(GOLDEN / "inputs" / "A.mat")
    assert matrix.shape == (3, 3) and matrix.dtype == np.float64
    a_star, b_star, c_star = matrix.T
    assert a_star.tolist() == [0.0152516222, 0.0101955970, 0.0055458736]
    assert b_star.tolist() == [-0.0069078527, 0.0154171989, 0.0017220488]
    assert c_star[2] == 0.0144918921


def test_mosflm_matrix_ignores_trailing_content_and_line_layout(tmp_path):
    path = tmp_path / "A.mat"
    path.write_text("1 2 3 4\n5 6 7 8 9\n0.0 0.0 0.0\n70 80 90 90 90 90\n")
    assert read_mosflm_matrix(path).tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_bad_mosflm_matrix(tmp_path):
    with pytest.raises(InputError, match="missing.mat"):
        read_mosflm_matrix(tmp_path / "missing.mat")
    (tmp_path / "short.mat").write_text("1 2 3\n4 5 6\n7 8\n")
    with pytest.raises(InputError, match=r"short\.mat: .*9 numbers, found 8"):
        read_mosflm_matrix(tmp_path / "short.mat")
    (tmp_path / "text.mat").write_text("1 2 3\n4 five 6\n7 8 9\n")
    with pytest.raises(InputError, match=r"9 numbers, got 1 2 3 4 five"):
        read_mosflm_matrix(tmp_path / "text.mat")


def test_golden_source_file():
    sources = read_source_file(GOLDEN / "inputs" / "sources.txt")
    assert sources.shape == (3, 5) and sources.dtype == np.float64
    assert sources[1].tolist() == [-10.0, 0.002, 0.001, 0.5, 1.0e-10]


def test_source_file_delimiters_blank_lines_and_missing_columns(tmp_path):
    path = tmp_path / "sources.txt"
    path.write_text("-10 0 0 1 1e-10\n\n  ,;\n-10,0.001;0.002!0.5\n\t-10:1 2 3 4 5 6\r\n-10 0 0 2")
    sources = read_source_file(path)
    assert sources.shape == (4, 5)
    assert sources[1, :4].tolist() == [-10.0, 0.001, 0.002, 0.5] and math.isnan(sources[1, 4])
    assert sources[2].tolist() == [-10.0, 1.0, 2.0, 3.0, 4.0]
    assert sources[3, :4].tolist() == [-10.0, 0.0, 0.0, 2.0] and math.isnan(sources[3, 4])


def test_empty_or_missing_source_file(tmp_path):
    (tmp_path / "empty.txt").write_text("\n \t\n")
    with pytest.raises(InputError, match="empty.txt"):
        read_source_file(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="missing.txt"):
        read_source_file(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    "text, value",
    [
        ("1.5e-3;", 1.5e-3),
        ("  -.5x", -0.5),
        ("+7.", 7.0),
        ("2e", 2.0),
        ("0x1.8p1,", 3.0),
        ("abc", 0.0),
        ("", 0.0),
        ("-Infinity", -math.inf),
        ("\n\t12 34", 12.0),
    ],
)
def test_c_atof(text, value):
    assert c_atof(text) == value


def test_atof_nan():
    assert math.isnan(c_atof("nan(1)"))
