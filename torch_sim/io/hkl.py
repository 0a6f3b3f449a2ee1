"""HKL structure-factor files (``h k l F`` per line) and the dense F grid built from them.

File format, one reflection per line: at least four white-space separated
columns ``h k l F``; h, k, l are (possibly negative) integers and F, the
structure-factor amplitude in electrons, is a finite decimal number. Blank
lines and comment lines whose first non-blank character is ``#`` or ``!`` are
skipped. Columns after the fourth are ignored.

Differences from nanoBragg.c, which reads the file with ``fscanf`` in two passes
(``%lg%lg%lg%lg`` to find the index range, then ``%d%d%d%lg`` to fill the grid):
the C program does not know lines, so a fifth column shifts every later value
(it becomes the next reflection's h), a comment or any non-numeric text ends
the reading silently, and a non-integer index is only warned about and then
misparsed. Here all three are either handled per line or raise ``InputError``.
"""

import os
import re
from dataclasses import dataclass

import numpy as np

from torch_sim.errors import InputError

_INTEGER = re.compile(r"[+-]?[0-9]+")
_REAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass
class HklData:
    """Reflections in file order: ``indices`` int64 [n, 3] (h, k, l), ``amplitudes`` float64 [n]."""

    indices: np.ndarray
    amplitudes: np.ndarray


@dataclass
class StructureFactorGrid:
    """Dense amplitudes: ``values[h - h_min, k - k_min, l - l_min]`` (float64, electrons).

    ``values`` has shape [h_max-h_min+1, k_max-k_min+1, l_max-l_min+1]; the bounds
    are inclusive.
    """

    values: np.ndarray
    h_min: int
    h_max: int
    k_min: int
    k_max: int
    l_min: int
    l_max: int


def _parse_index(token: str, path: str, line_number: int) -> int:
    if not _INTEGER.fullmatch(token):
        raise InputError(f"{path}:{line_number}: Miller index {token!r} is not an integer")
    return int(token)


def read_hkl(path) -> HklData:
    """Read an HKL file; raise InputError for a missing file or a malformed line."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()
    except OSError as error:
        raise InputError(f"cannot read HKL file {path}: {error.strerror}") from None
    indices = []
    amplitudes = []
    for line_number, line in enumerate(lines, start=1):
        columns = line.split()
        if not columns or columns[0][0] in "#!":
            continue
        if len(columns) < 4:
            raise InputError(f"{path}:{line_number}: expected 'h k l F', got {line.strip()!r}")
        indices.append([_parse_index(token, path, line_number) for token in columns[:3]])
        if not _REAL.fullmatch(columns[3]):
            raise InputError(f"{path}:{line_number}: structure factor {columns[3]!r} is not a number")
        amplitudes.append(float(columns[3]))
    if not indices:
        raise InputError(f"HKL file {path} holds no reflections")
    return HklData(np.array(indices, dtype=np.int64), np.array(amplitudes, dtype=np.float64))


def structure_factor_grid(hkl: HklData, default_F: float = 0.0) -> StructureFactorGrid:
    """Dense grid over the index bounds of ``hkl``, as nanoBragg.c builds it.

    Entries without a reflection hold ``default_F``; when an index appears more than
    once the last line wins.
    """
    if len(hkl.indices) == 0:
        raise InputError("cannot build a structure-factor grid from zero reflections")
    lower = hkl.indices.min(axis=0)
    upper = hkl.indices.max(axis=0)
    shape = tuple(int(n) for n in upper - lower + 1)
    values = np.full(shape, float(default_F), dtype=np.float64)
    flat = np.ravel_multi_index(tuple((hkl.indices - lower).T), shape)
    # np.unique keeps the first occurrence: search the reversed list for the last one.
    _, first_in_reversed = np.unique(flat[::-1], return_index=True)
    last = len(flat) - 1 - first_in_reversed
    values.flat[flat[last]] = hkl.amplitudes[last]
    return StructureFactorGrid(
        values,
        h_min=int(lower[0]),
        h_max=int(upper[0]),
        k_min=int(lower[1]),
        k_max=int(upper[1]),
        l_min=int(lower[2]),
        l_max=int(upper[2]),
    )
