"""What an archive catalogues, carried from the source to the output as
``ffmpeg -map_metadata 0 -map_chapters 0`` would: the container's tags
(title, date, comment, ...), each stream's tags (language, title, ...) and
disposition, and the chapters; then, read back from the written file, what
the output container could not hold, to be said."""

from __future__ import annotations

import av

from ..encoding import describe

# written by the muxer itself, or describing the source file rather than the film
_NOT_CARRIED = ("major_brand", "minor_version", "compatible_brands", "encoder", "duration", "_statistics_",
                "number_of_", "bps", "timecode")
# what a user catalogues, checked in the written file
_CATALOGUED = ("title", "date", "comment", "language", "artist", "copyright", "description")


def carried(tags: dict[str, str]) -> dict[str, str]:
    """The tags worth copying into a new file."""
    return {k: v for k, v in tags.items() if not k.lower().startswith(_NOT_CARRIED)}


def copy_stream_tags(src: av.stream.Stream, dst: av.stream.Stream) -> None:
    """Language, title and the like, and the disposition (default track, cover art)."""
    dst.metadata.update(_titled(carried(dict(src.metadata))))
    dst.disposition = src.disposition


def copy_container_tags(src: av.container.InputContainer, dst: av.container.OutputContainer) -> None:
    """The container's tags and chapters; before the header is written."""
    dst.metadata.update(carried(dict(src.metadata)))
    chapters = src.chapters()
    if chapters:
        dst.set_chapters(chapters)


def _titled(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` with a QuickTime track's "name" (how FFmpeg's mov muxer writes a title, and reads it back) as its title."""
    if "name" in tags and "title" not in tags:
        tags = {("title" if k == "name" else k): v for k, v in tags.items()}
    return tags


def _catalogued(tags: dict[str, str]) -> dict[str, str]:
    tags = _titled({k.lower(): v for k, v in tags.items()})
    return {k: v for k, v in tags.items() if k in _CATALOGUED and v and v != "und"}


def what_was_lost(src: av.container.InputContainer, streams: list[av.stream.Stream], written: str,
                  suffix: str) -> list[str]:
    """What of the source's catalogue the written file does not hold, a line each.
    ``streams``: the source streams in the order of the output's (video first)."""
    lost = []
    with av.open(written) as out:
        have = _catalogued(dict(out.metadata))
        missing = [f"{k} {v!r}" for k, v in _catalogued(dict(src.metadata)).items() if k not in have]
        if missing:
            lost.append(f"the film's {', '.join(missing)}")
        for s, o in zip(streams, out.streams, strict=False):
            have = _catalogued(dict(o.metadata))
            missing = [f"{k} {v!r}" for k, v in _catalogued(dict(s.metadata)).items() if have.get(k) != v]
            if missing:
                lost.append(f"{describe(s)}: {', '.join(missing)}")
        chapters, kept = len(src.chapters()), len(out.chapters())
        if chapters > kept:
            lost.append(f"{chapters - kept} of {chapters} chapters")
    if not lost:
        return []
    return [f"{suffix} cannot hold {'; '.join(lost)}: not kept (.mkv holds them)"]
