"""Which of the source's other streams the output carries: ``--drop`` (stream
specifiers as the ffmpeg command line writes them), and the streams that are
not content, which are dropped with a note wherever they come from."""

from __future__ import annotations

import av

from ..encoding import describe
from ..errors import OutputError

# ffmpeg's stream specifier letters: v(ideo), a(udio), s(ubtitle), d(ata), t (attachment)
KINDS = {"v": "video", "a": "audio", "s": "subtitle", "d": "data", "t": "attachment"}


def dropped(container: av.container.InputContainer, film: av.stream.Stream, specs: tuple[str, ...]) -> set[int]:
    """Indices of the streams ``specs`` name: an index ('3'), a kind ('s': every
    subtitle stream) or the n-th of a kind ('a:1', the second audio stream).
    OutputError for a specifier that names nothing, or the film itself."""
    chosen: set[int] = set()
    for spec in specs:
        kind, _, nth = spec.partition(":")
        if spec.isdigit():
            hits = [s for s in container.streams if s.index == int(spec)]
        elif kind in KINDS and (not nth or nth.isdigit()):
            of_kind = [s for s in container.streams if s.type == KINDS[kind]]
            hits = of_kind if not nth else of_kind[int(nth): int(nth) + 1]
        else:
            raise OutputError(f"--drop {spec}: give a stream number (3), a kind (a, s, d, t) or the n-th of a "
                              "kind (a:1, the second audio stream)")
        if not hits:
            raise OutputError(f"--drop {spec}: the source has no such stream")
        if any(s.index == film.index for s in hits):
            raise OutputError(f"--drop {spec}: that is the film being colorized")
        chosen.update(s.index for s in hits)
    return chosen


def not_content(container: av.container.InputContainer, s: av.stream.Stream) -> str | None:
    """Why ``s`` is no part of the film, or None: a stream that only served the
    source's own format, which no output needs (or can hold)."""
    name = getattr(s, "name", None)
    if name == "dvd_nav_packet":
        return "DVD navigation (menus and seeking on the disc), not content"
    if (s.type == "data" and name == "bin_data" and container.chapters()
            and container.format.name.startswith("mov")):
        return "the chapter track of a QuickTime file; its chapters are carried as chapters"
    return None


def refusal(s: av.stream.Stream, where: str, mkv_takes: bool) -> OutputError:
    """The error for a stream the output cannot hold, with the ways out that exist."""
    way = f"use .mkv, which holds it, or drop it with --drop {s.index}" if mkv_takes else \
        f"no container filmcolor writes holds it: drop it with --drop {s.index}"
    return OutputError(f"stream {describe(s)} cannot go into {where}; {way}")
