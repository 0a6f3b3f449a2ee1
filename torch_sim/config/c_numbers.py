"""Parsing of numbers on a nanoBragg command line: strict by default, C-lenient on request.

nanoBragg.c reads values with ``atof``/``atoi``, which silently turn garbage into
0. torch_sim rejects a malformed value with a one-line error, except where the
C program reaches an argument only through a substring side effect (for
example ``-misset_seed`` also entering the ``-misset`` branch) and the value is
then read leniently, as the C does.
"""

import math
import re

from torch_sim.errors import InputError

_C_SPACE = " \t\n\v\f\r"
_C_FLOAT = re.compile(
    r"[+-]?(?:"
    r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?"
    r")"
)
_C_INT = re.compile(r"^\s*[+-]?\d+")
_FULL_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_number(text: str) -> bool:
    """True if ``text`` is a complete finite decimal number (e.g. a negative value after a flag)."""
    return bool(_FULL_NUMBER.match(text))


def c_atof(text: str) -> float:
    """C ``atof``/``strtod``: after leading C white space, the longest prefix that is a decimal,
    hexadecimal, ``inf``/``infinity`` or ``nan`` number; trailing text is ignored; 0.0 if there is none."""
    match = _C_FLOAT.match(text.lstrip(_C_SPACE))
    if match is None:
        return 0.0
    token = match.group(0)
    if "x" in token or "X" in token:
        return float.fromhex(token)
    return float(token.split("(")[0])


def c_atoi(text: str) -> int:
    """C ``atoi``: the leading integer digits, 0 if there are none (``atoi("3.9") == 3``)."""
    match = _C_INT.match(text)
    return int(match.group(0)) if match else 0


def parse_float(text: str, flag: str) -> float:
    """A finite number for ``flag``; InputError otherwise."""
    if not is_number(text):
        raise InputError(f"{flag}: expected a number, got {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"{flag}: value {text!r} is not finite")
    return value


def parse_int(text: str, flag: str) -> int:
    """An integer for ``flag`` with C ``atoi`` semantics on a valid number ("3.9" gives 3)."""
    parse_float(text, flag)
    return c_atoi(text)
