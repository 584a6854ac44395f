"""Which reference photo steers which part of a film: times as users write them
('5:12', '1:02:03.5', seconds) and the shot-list file of 'TIME PHOTO' lines."""

from __future__ import annotations

from pathlib import Path


class ShotListError(ValueError):
    """A time or a line that cannot be read; ``where`` names the file and line, if any."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


def parse_time(when: str) -> float:
    """'5:12' -> 312.0; '1:02:03.5' and plain seconds too."""
    try:
        parts = [float(p) for p in when.split(":")]
        if len(parts) > 3 or any(p < 0 for p in parts):
            raise ValueError
    except ValueError:
        raise ShotListError(f"{when!r} is not a time (5:12, 1:02:03.5 or seconds)") from None
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def format_time(seconds: float) -> str:
    """312.5 -> '5:12.5', as reference times are written."""
    m, s = divmod(seconds, 60)
    return (f"{int(m)}:{s:04.1f}" if m else f"{s:.1f}").removesuffix(".0")


def parse_reference(text: str) -> tuple[float, Path]:
    """'5:12=garden.jpg' -> (312.0, Path('garden.jpg')); a bare photo starts at 0."""
    when, sep, photo = text.partition("=")
    if not sep:
        return 0.0, Path(text)
    return parse_time(when), Path(photo)


def read_shot_list(path: Path) -> list[tuple[float, Path]]:
    """The (time, photo) of each 'TIME PHOTO' or 'TIME=PHOTO' line of a text file
    (# starts a comment); photos named relative to the file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ShotListError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    out = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        when, sep, photo = line.partition("=")
        if not sep:
            when, _, photo = line.partition(" ")
        if not photo.strip():
            raise ShotListError(f"{path} line {n}: expected TIME PHOTO, got {line!r}")
        try:
            out.append((parse_time(when.strip()), path.parent / photo.strip()))
        except ShotListError as e:
            raise ShotListError(str(e), where=f"{path} line {n}") from None
    if not out:
        raise ShotListError(f"{path} names no reference")
    return out
