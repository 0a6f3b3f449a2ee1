"""Atomic output: a failure while writing leaves the previous file intact and no temporary file."""

import os

import numpy as np
import pytest

from torch_sim.errors import InputError
from torch_sim.io import atomic_write, read_float_image, read_hdf5, write_float_image, write_hdf5


def test_failure_mid_write_keeps_existing_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"original")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as handle:
            handle.write(b"partial data")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_failing_writers_keep_existing_files(tmp_path):
    write_float_image(tmp_path / "f.bin", np.ones((2, 2)))
    with pytest.raises(ValueError):
        write_float_image(tmp_path / "f.bin", np.array([["1", "x"], ["2", "3"]], dtype=object))
    assert np.array_equal(read_float_image(tmp_path / "f.bin", (2, 2)), np.ones((2, 2)))

    write_hdf5(tmp_path / "out.h5", np.ones((2, 2)), {"distance_mm": 100.0})
    with pytest.raises(TypeError):  # h5py fails on the attribute after creating the dataset
        write_hdf5(tmp_path / "out.h5", np.zeros((2, 2)), {"distance_mm": 50.0, "bad": object()})
    kept = read_hdf5(tmp_path / "out.h5")
    assert kept.metadata == {"distance_mm": 100.0} and kept.image.sum() == 4.0
    assert sorted(os.listdir(tmp_path)) == ["f.bin", "out.h5"]


def test_success_replaces_file_with_normal_permissions(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path, "w") as handle:
        handle.write("new")
    assert path.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_unwritable_destination_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="nodir"):
        write_float_image(tmp_path / "nodir" / "f.bin", np.ones((2, 2)))
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="taken"):
        write_float_image(tmp_path / "taken", np.ones((2, 2)))
    assert os.listdir(tmp_path) == ["taken"]
