"""The colour stage: batches of decoded frames in, coloured frames out, the
other streams' packets passed straight on (see frames.FrameColorizer for what
happens to a batch)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .options import VideoOptions, VideoReport

if TYPE_CHECKING:
    from ..colorizer import Colorizer
    from ..frames import FrameColorizer


def network_threads(opts: VideoOptions) -> int:
    """CPU threads for the network during a film: a quarter of the cores (at least
    one) unless told, since the encoder needs the rest."""
    return opts.cpu_threads or max(1, (os.cpu_count() or 1) // 4)


def colour(items: Iterable[tuple], colorizer: Colorizer, frame_colorizer: FrameColorizer, opts: VideoOptions,
           report: VideoReport) -> Iterator[tuple]:
    """``("frame", f)`` items coloured in batches of ``opts.batch_size``; every other
    item passed on in place. The network's thread count is set for the film and
    given back when the stage ends (however it ends)."""
    from ..temporal import Smoother

    smoother = Smoother(opts.smoothing) if opts.smooth else None
    threads = colorizer.threads  # what the caller had: given back when the film ends
    if colorizer.device == "cpu":
        colorizer.set_threads(network_threads(opts))
    try:
        batch: list = []
        for item in items:
            if item[0] != "frame":
                yield item
                continue
            batch.append(item[1])
            if len(batch) >= opts.batch_size:
                yield from _coloured(batch, frame_colorizer, smoother, report)
                batch = []
        yield from _coloured(batch, frame_colorizer, smoother, report)
        if smoother is not None:
            report.cuts = smoother.cuts
    finally:
        colorizer.set_threads(threads)


def _coloured(frames: list, frame_colorizer: FrameColorizer, smoother, report: VideoReport) -> Iterator[tuple]:
    if not frames:
        return
    for frame in frame_colorizer.colorize(frames, smoother):
        yield ("frame", frame)
    report.batch_size = frame_colorizer.batch_size
    report.carried = frame_colorizer.carried
