"""Exceptions raised for bad input.

Every message is one line that names the offending input (flag, file, line or
parameter), so that the command line can print it and exit with status 2.
"""


class InputError(ValueError):
    """Bad user input: unknown flag, malformed file, impossible geometry, NaN parameter."""
