"""MOSFLM orientation matrix files (``-mat``).

The first nine white-space separated numbers of the file form the MOSFLM ``A``
matrix, row by row; anything after them (missetting angles, U matrix, cell) is
ignored. nanoBragg.c reads them with three ``fscanf("%lg%lg%lg")`` calls into
``a_star[i], b_star[i], c_star[i]`` for i = x, y, z, so:

* row i holds component i (x, y, z) of a*, b* and c*;
* columns 0, 1, 2 are the reciprocal vectors a*, b*, c*.

MOSFLM's matrix is wavelength-scaled (dimensionless): the C program divides it by
the wavelength in Angstrom (``* 1e-10/lambda0``) to get a*, b*, c* in 1/Angstrom.
That step is the caller's.
"""

import os

import numpy as np

from torch_sim.errors import InputError


def read_mosflm_matrix(path) -> np.ndarray:
    """Return the matrix as float64 [3, 3]: ``m[i, j]`` = component i of (a*, b*, c*)[j]."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            tokens = handle.read().split()[:9]
    except OSError as error:
        raise InputError(f"cannot read MOSFLM matrix file {path}: {error.strerror}") from None
    if len(tokens) < 9:
        raise InputError(f"{path}: a MOSFLM matrix needs 9 numbers, found {len(tokens)}")
    try:
        values = [float(token) for token in tokens]
    except ValueError:
        raise InputError(f"{path}: a MOSFLM matrix needs 9 numbers, got {' '.join(tokens)}") from None
    return np.array(values, dtype=np.float64).reshape(3, 3)
