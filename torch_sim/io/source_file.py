"""Source list files (``-sourcefile``): one source per line, ``X Y Z weight lambda``.

Semantics of nanoBragg.c's ``read_text_file(filename, 5, ...)``: lines that hold
nothing but the delimiters `` \\t,;:!`` are skipped, every other line is one
source; fields are separated by runs of those delimiters and each is converted
like C ``atof`` (longest numeric prefix, 0.0 for text); fields after the fifth
are ignored and missing trailing fields are NaN, for the caller to fill (the C
program uses -10 m * beam direction for X Y Z, 1.0 for the weight and the
nominal wavelength). X, Y, Z are in metres, lambda in metres.

Where the C scanner misbehaves on malformed input this reader does not: C gives
0.0 instead of NaN to the missing fields of a last line without a newline, of a
line ending in ``\\r\\n`` or of a line whose last field holds a character other
than ``0-9+-.EeGg`` (``nan``, ``1x``),
and treats a ``\\r\\n``-only line as an all-zero source; here ``\\n`` and
``\\r\\n`` line ends are stripped first.
"""

import math
import os
import re

import numpy as np

from torch_sim.errors import InputError
from torch_sim.config.c_numbers import c_atof

_COLUMNS = 5
_DELIMITERS = re.compile(r"[ \t,;:!]+")


def read_source_file(path) -> np.ndarray:
    """Return the sources as float64 [n, 5] (X, Y, Z, weight, lambda); NaN marks a missing field."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            lines = handle.read().split("\n")
    except OSError as error:
        raise InputError(f"cannot read source file {path}: {error.strerror}") from None
    rows = []
    for line in lines:
        fields = [field for field in _DELIMITERS.split(line.rstrip("\r")) if field][:_COLUMNS]
        if fields:
            rows.append([c_atof(field) for field in fields] + [math.nan] * (_COLUMNS - len(fields)))
    if not rows:
        raise InputError(f"source file {path} holds no sources")
    return np.array(rows, dtype=np.float64)
