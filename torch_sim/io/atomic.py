"""Atomic file output: write to a temporary sibling, then rename it into place.

A failure (exception, interruption) while writing leaves any existing file at the
destination untouched and removes the temporary file; readers never see a
half-written output.
"""

import contextlib
import os
import tempfile
from typing import IO, Iterator, Union

from torch_sim.errors import InputError

PathLike = Union[str, "os.PathLike[str]"]

# Read the process umask once, so that outputs get the usual 0o666 & ~umask mode
# instead of mkstemp's private 0o600.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    For writers that need a file name rather than a file object (h5py). The
    temporary file exists (empty) when the body starts and is removed if the body
    raises. An unwritable destination (missing folder, no permission, a folder of
    that name) raises InputError.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise InputError(f"cannot write {path}: {error.strerror}") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it into place on success.

    ``mode`` is ``"wb"`` (bytes) or ``"w"`` (text, UTF-8).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', not {mode!r}")
    with atomic_path(path) as tmp:
        encoding = None if mode == "wb" else "utf-8"
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
