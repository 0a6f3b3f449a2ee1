"""HDF5 output of this port (not a nanoBragg.c format).

Layout: dataset ``image`` (float32 or float64 as given, [slow, fast], photons per
pixel) whose attributes are the metadata, e.g. ``pixel_size_mm``, ``distance_mm``,
``wavelength_A``: keys should carry their unit. Values are numbers, strings, or
arrays of them.
"""

import os
from dataclasses import dataclass

import h5py
import numpy as np

from torch_sim.errors import InputError
from torch_sim.io.atomic import atomic_path

DATASET = "image"


@dataclass
class Hdf5Image:
    """An image read back: ``image`` [slow, fast] and its ``metadata`` attributes."""

    image: np.ndarray
    metadata: dict


def write_hdf5(path, image: np.ndarray, metadata: dict) -> None:
    """Write ``image`` (float32/float64 [slow, fast]) with ``metadata`` as attributes of the dataset."""
    array = np.asarray(image)
    if array.ndim != 2 or array.dtype not in (np.float32, np.float64):
        raise ValueError(f"HDF5 image must be a 2-D float32/float64 array, got {array.ndim}-D {array.dtype}")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            dataset = handle.create_dataset(DATASET, data=array)
            for key, value in metadata.items():
                dataset.attrs[key] = value


def _python_value(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_hdf5(path) -> Hdf5Image:
    """Read a file written by ``write_hdf5``; strings come back as ``str``, scalars as Python numbers."""
    path = os.fspath(path)
    try:
        with h5py.File(path, "r") as handle:
            dataset = handle[DATASET]
            return Hdf5Image(dataset[()], {key: _python_value(value) for key, value in dataset.attrs.items()})
    except (OSError, KeyError) as error:
        raise InputError(f"cannot read HDF5 image {path}: {error}") from None
