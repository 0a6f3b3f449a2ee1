"""SMV (ADSC) images: unsigned 16-bit pixels after a text header of ``KEY=value;`` lines.

Reading follows nanoBragg.c's ``GetFrame``/``ValueOf``: the file must start with
``"{\\nHEADER_BYT"`` (the C compares 12 characters), the header is the first
HEADER_BYTES bytes (up to a NUL byte), the image is SIZE1 (fast) x SIZE2 (slow)
pixels (DETECTOR_DIMENSIONS for both when SIZE1 is 0) right after the header.
Unlike the C program, which works out whether bytes need swapping but never swaps
them, the data are read in the byte order the header declares.

Writing produces the C program's layout: a 512-byte header of the fixed lines
``HEADER_BYTES=512; DIM=2; BYTE_ORDER=little_endian; TYPE=unsigned_short;``, the
given fields, ``"}\\f"`` and space padding, then little-endian uint16 data. A
header that does not fit into 512 bytes gets 1024 (or more), see ``smv_header_text``.
"""

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from torch_sim.errors import InputError
from torch_sim.io.atomic import atomic_write
from torch_sim.config.c_numbers import c_atof

_HEADER_BLOCK = 512
_MAGIC = b"{\nHEADER_BYT"
_FIXED_LINES = "{{\nHEADER_BYTES={};\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"


def header_value(header_text: str, keyword: str) -> float:
    """The C ``ValueOf``: atof of the text after the first ``=`` following the keyword's last occurrence.

    The keyword matches as a substring anywhere (``DISTANCE`` also matches inside
    ``CLOSE_DISTANCE``); occurrences are found left to right without overlap, as
    with repeated ``strstr``. Absent keyword: NaN; no ``=`` after it: 0.0.
    """
    if not keyword:
        raise ValueError("header keyword must not be empty")
    position = 0
    while (found := header_text.find(keyword, position)) >= 0:
        position = found + len(keyword)
    if position == 0:
        return math.nan
    equals = header_text.find("=", position)
    if equals < 0:
        return 0.0
    return c_atof(header_text[equals + 1 :])


@dataclass
class SmvImage:
    """An SMV image: ``data`` uint16 [slow, fast] (native byte order) and the raw ``header_text``."""

    data: np.ndarray
    header_text: str

    def value_of(self, keyword: str) -> float:
        """Header value of ``keyword`` with the C program's ``ValueOf`` rules (see ``header_value``)."""
        return header_value(self.header_text, keyword)


def _header_text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _positive_int(header_text: str, keyword: str, path: str) -> int:
    value = header_value(header_text, keyword)
    if not math.isfinite(value) or int(value) <= 0:
        raise InputError(f"{path}: SMV header has no usable {keyword} (got {value:g})")
    return int(value)


def read_smv(path) -> SmvImage:
    """Read an SMV image; raise InputError for a missing, truncated or non-SMV file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise InputError(f"cannot read SMV image {path}: {error.strerror}") from None
    if len(raw) < _HEADER_BLOCK or not raw.startswith(_MAGIC):
        raise InputError(f"{path} does not look like an SMV image (no '{{\\nHEADER_BYTES=' header)")
    header_size = _positive_int(_header_text(raw[:_HEADER_BLOCK]), "HEADER_BYTES", path)
    header_text = _header_text(raw[:header_size])
    size1 = header_value(header_text, "SIZE1")
    if math.isfinite(size1) and int(size1) == 0:
        fast = slow = _positive_int(header_text, "DETECTOR_DIMENSIONS", path)
    else:
        fast = _positive_int(header_text, "SIZE1", path)
        slow = _positive_int(header_text, "SIZE2", path)
    byte_order = header_text.rsplit("BYTE_ORDER=", 1)[-1] if "BYTE_ORDER=" in header_text else ""
    dtype = np.dtype(">u2" if byte_order.startswith("big_endian") else "<u2")
    end = header_size + 2 * fast * slow
    if len(raw) < end:
        raise InputError(f"{path}: SMV image truncated: {len(raw)} bytes for {header_size} + 2*{fast}*{slow}")
    image = np.frombuffer(raw[header_size:end], dtype=dtype).reshape(slow, fast).astype(np.uint16)
    return SmvImage(image, header_text)


@dataclass(frozen=True)
class SmvField:
    """One header line ``KEY=value<terminator>``; the value is already formatted."""

    key: str
    value: str
    terminator: str = ";"


def smv_header_text(fields: Sequence[SmvField], fit_header: bool = False) -> str:
    """The complete header: fixed lines, ``fields`` in order, ``"}\f"``, space padding to 512.

    As nanoBragg.c writes it, a text longer than 512 characters is written whole
    although the header declares HEADER_BYTES=512 (readers that trust
    HEADER_BYTES then see shifted pixels). ``fit_header`` instead grows
    HEADER_BYTES to the next multiple of 512, which gives a valid file.
    """
    body = "".join(f"{f.key}={f.value}{f.terminator}\n" for f in fields) + "}\f"
    size = _HEADER_BLOCK
    while fit_header and len(_FIXED_LINES.format(size) + body) > size:
        size += _HEADER_BLOCK
    return (_FIXED_LINES.format(size) + body).ljust(size)


def write_smv(path, image_uint16: np.ndarray, header_fields: Sequence[SmvField], fit_header: bool = False) -> None:
    """Write a uint16 [slow, fast] image; the fields must contain SIZE1 = fast and SIZE2 = slow.

    ``fit_header``: see :func:`smv_header_text` (the default writes the C program's bytes).
    """
    image = np.asarray(image_uint16)
    if image.dtype != np.uint16 or image.ndim != 2:
        raise ValueError(f"SMV data must be a 2-D uint16 array, got {image.ndim}-D {image.dtype}")
    header = smv_header_text(header_fields, fit_header)
    slow, fast = image.shape
    if header_value(header, "SIZE1") != fast or header_value(header, "SIZE2") != slow:
        raise ValueError(f"SMV header SIZE1/SIZE2 do not match the image shape {image.shape} (slow, fast)")
    with atomic_write(path) as handle:
        handle.write(header.encode("ascii"))
        handle.write(image.astype("<u2").tobytes())
