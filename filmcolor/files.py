"""Finishing an output file: written under a temporary name beside it, then
renamed over it, so that an interrupted run never leaves half a file there."""

from __future__ import annotations

import os

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
