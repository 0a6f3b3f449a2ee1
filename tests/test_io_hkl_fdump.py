"""HKL reading, the dense structure-factor grid and the Fdump.bin cache."""

from pathlib import Path

import numpy as np
import pytest

from torch_sim.errors import InputError
from torch_sim.io import read_fdump, read_hkl, structure_factor_grid, write_fdump

GOLDEN = Path(__file__).resolve().parents[1] / "golden_data" / "nanobragg_c"


def test_p1_grid_reproduces_golden_fdump_byte_for_byte(tmp_path):
    grid = structure_factor_grid(read_hkl(GOLDEN / "inputs" / "P1.hkl"), default_F=0.0)
    assert (grid.h_min, grid.h_max, grid.k_min, grid.k_max, grid.l_min, grid.l_max) == (-12, 12) * 3
    write_fdump(tmp_path / "Fdump.bin", grid)
    golden = GOLDEN / "cases" / "triclinic_misset_hkl" / "Fdump.bin"
    assert (tmp_path / "Fdump.bin").read_bytes() == golden.read_bytes()


def test_read_golden_fdump_round_trips():
    hkl = read_hkl(GOLDEN / "inputs" / "P1.hkl")
    grid = read_fdump(GOLDEN / "cases" / "triclinic_misset_hkl" / "Fdump.bin")
    assert grid.values.shape == (25, 25, 25)
    assert np.array_equal(grid.values, structure_factor_grid(hkl).values)
    h, k, l = hkl.indices[100]
    assert grid.values[h + 12, k + 12, l + 12] == hkl.amplitudes[100]


def test_sparse_grid_default_F_and_bounds():
    hkl = read_hkl(GOLDEN / "inputs" / "sparse.hkl")
    assert hkl.indices.dtype == np.int64 and hkl.amplitudes.dtype == np.float64
    grid = structure_factor_grid(hkl, default_F=10.0)
    assert (grid.h_min, grid.h_max, grid.k_min, grid.k_max, grid.l_min, grid.l_max) == (-1, 3, -2, 2, 0, 2)
    assert grid.values.shape == (5, 5, 3)
    assert grid.values[3 + 1, -2 + 2, 1] == 20.25
    assert grid.values[-1 + 1, 1 + 2, 2] == 45.5
    assert np.count_nonzero(grid.values == 10.0) == grid.values.size - 5


def test_fdump_with_default_F_round_trips_and_pads_with_zeros(tmp_path):
    grid = structure_factor_grid(read_hkl(GOLDEN / "inputs" / "sparse.hkl"), default_F=10.0)
    write_fdump(tmp_path / "Fdump.bin", grid)
    content = (tmp_path / "Fdump.bin").read_bytes()
    header = b"-1 3 -2 2 0 2\n\f"
    assert content.startswith(header)
    padded = np.frombuffer(content[len(header) :], dtype=np.float64).reshape(6, 6, 4)
    assert not padded[5].any() and not padded[:, 5].any() and not padded[:, :, 3].any()
    back = read_fdump(tmp_path / "Fdump.bin")
    assert np.array_equal(back.values, grid.values) and back.l_max == 2


def test_hkl_comments_blank_lines_extra_columns_and_duplicates(tmp_path):
    path = tmp_path / "x.hkl"
    path.write_text("# comment\n\n  ! another\n1 -2 3 5.5 0.3 extra\n-1 0 0 7\n1 -2 3 9.0\n")
    hkl = read_hkl(path)
    assert hkl.indices.tolist() == [[1, -2, 3], [-1, 0, 0], [1, -2, 3]]
    grid = structure_factor_grid(hkl, default_F=0.0)
    assert grid.values[2, 0, 3] == 9.0  # the later duplicate wins
    assert grid.values[0, 2, 0] == 7.0


@pytest.mark.parametrize(
    "line, fragment",
    [("1 2 3\n", "expected 'h k l F'"), ("1 2.5 3 4\n", "not an integer"), ("1 2 3 abc\n", "not a number")],
)
def test_malformed_hkl_line_names_file_and_line(tmp_path, line, fragment):
    path = tmp_path / "bad.hkl"
    path.write_text("0 0 0 1\n# note\n" + line)
    with pytest.raises(InputError, match=rf"bad\.hkl:3: .*{fragment}"):
        read_hkl(path)


def test_missing_and_empty_hkl(tmp_path):
    with pytest.raises(InputError, match="missing.hkl"):
        read_hkl(tmp_path / "missing.hkl")
    (tmp_path / "empty.hkl").write_text("# nothing\n")
    with pytest.raises(InputError, match="no reflections"):
        read_hkl(tmp_path / "empty.hkl")


def test_bad_fdump(tmp_path):
    path = tmp_path / "Fdump.bin"
    path.write_bytes(b"0 0 0 0 0 0\n\f" + bytes(8 * 7))
    with pytest.raises(InputError, match="needs 64"):
        read_fdump(path)
    path.write_bytes(b"garbage")
    with pytest.raises(InputError, match="not an Fdump file"):
        read_fdump(path)
    with pytest.raises(InputError, match="nothere"):
        read_fdump(tmp_path / "nothere")
