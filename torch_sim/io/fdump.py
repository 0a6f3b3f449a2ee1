"""nanoBragg.c's structure-factor cache ``Fdump.bin``.

Layout: the text header ``"h_min h_max k_min k_max l_min l_max\\n\\f"`` followed by
(h_range+1)*(k_range+1)*(l_range+1) native-order float64 values, C order
[h, k, l], where ``h_range = h_max - h_min + 1`` etc. The C program allocates one
extra slab at the top of each index and writes it; those entries are zero.

The C program reads the header back with ``fscanf("%d...%d\\n\\f")``, whose white-space
directive also swallows leading data bytes 0x09-0x0d or 0x20, so it misreads a cache
whose first amplitude (at h_min, k_min, l_min) has such a low byte. ``read_fdump``
does not have that flaw.
"""

import os
import re

import numpy as np

from torch_sim.errors import InputError
from torch_sim.io.atomic import atomic_write
from torch_sim.io.hkl import StructureFactorGrid

_HEADER_END = b"\n\f"
_INTEGER = re.compile(rb"[+-]?[0-9]+")


def _bounds(grid: StructureFactorGrid) -> tuple[int, int, int, int, int, int]:
    return (grid.h_min, grid.h_max, grid.k_min, grid.k_max, grid.l_min, grid.l_max)


def write_fdump(path, grid: StructureFactorGrid) -> None:
    """Write ``grid`` in the C layout, byte for byte as nanoBragg.c does."""
    shape = grid.values.shape
    bounds = _bounds(grid)
    if shape != (bounds[1] - bounds[0] + 1, bounds[3] - bounds[2] + 1, bounds[5] - bounds[4] + 1):
        raise ValueError(f"grid values of shape {shape} do not match the index bounds {bounds}")
    padded = np.zeros(tuple(n + 1 for n in shape), dtype=np.float64)
    padded[: shape[0], : shape[1], : shape[2]] = grid.values
    header = "%d %d %d %d %d %d\n\f" % bounds
    with atomic_write(path) as handle:
        handle.write(header.encode("ascii"))
        handle.write(padded.tobytes())


def read_fdump(path) -> StructureFactorGrid:
    """Read a cache written by nanoBragg.c or ``write_fdump``; the padding slabs are dropped."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as error:
        raise InputError(f"cannot read Fdump file {path}: {error.strerror}") from None
    end = content.find(_HEADER_END)
    fields = content[:end].split() if end >= 0 else []
    if len(fields) != 6 or not all(_INTEGER.fullmatch(field) for field in fields):
        raise InputError(f"{path}: not an Fdump file (no 'h_min h_max k_min k_max l_min l_max' header)")
    bounds = [int(field) for field in fields]
    shape = tuple(bounds[i + 1] - bounds[i] + 1 for i in (0, 2, 4))
    if min(shape) < 1:
        raise InputError(f"{path}: Fdump header has empty index bounds {bounds}")
    padded_shape = tuple(n + 1 for n in shape)
    data = content[end + len(_HEADER_END) :]
    expected = 8 * int(np.prod(padded_shape))
    if len(data) != expected:
        raise InputError(f"{path}: Fdump data holds {len(data)} bytes, the header {bounds} needs {expected}")
    padded = np.frombuffer(data, dtype=np.float64).reshape(padded_shape)
    values = padded[: shape[0], : shape[1], : shape[2]].copy()
    return StructureFactorGrid(values, *bounds)
