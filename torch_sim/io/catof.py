"""C ``atof``: the value of the longest numeric prefix of a string, 0.0 when there is none."""

import re

_C_SPACE = " \t\n\v\f\r"
_NUMBER = re.compile(
    r"[+-]?(?:"
    r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?"
    r")"
)


def atof(text: str) -> float:
    """Parse ``text`` like C's ``atof``/``strtod``.

    Leading C white space is skipped, then the longest prefix that is a decimal,
    hexadecimal, ``inf``/``infinity`` or ``nan`` number is converted; trailing text
    is ignored and a string without such a prefix gives 0.0.
    """
    match = _NUMBER.match(text.lstrip(_C_SPACE))
    if match is None:
        return 0.0
    token = match.group(0)
    if "x" in token or "X" in token:
        return float.fromhex(token)
    return float(token.split("(")[0])
