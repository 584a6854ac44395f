"""Finishing an output file: written under a temporary name beside it, then
renamed over it, so that an interrupted run never leaves half a file there."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError

# Read once, at import (the main thread, before any worker starts): reading
# the umask means setting it, which must not race with threads creating files.
_UMASK = os.umask(0)
os.umask(_UMASK)


def publish(tmp: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename the finished ``tmp`` to ``dst`` with the permissions a newly
    created file gets (0666 less the umask): ``tempfile.mkstemp`` makes 0600
    files, which other users could not read."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, dst)


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike) -> Iterator[str]:
    """A temporary file beside ``dst`` to write into: renamed over ``dst`` (see
    :func:`publish`) when the block ends without an error, removed otherwise, so
    ``dst`` holds either its old content or the whole new file."""
    dst = Path(dst)
    try:
        fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=f".part{dst.suffix}")
    except OSError as e:
        raise OutputError(f"cannot write in {dst.parent}: {e.strerror}") from None
    try:  # from the moment the file exists: a Ctrl-C even before the first write leaves no .part behind
        os.close(fd)
        yield tmp
        publish(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
