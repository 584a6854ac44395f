"""A film through the colorizer, as compositions of the stages:

    source -> decode (demux.py) -> colour (stages.py) -> mux (mux.py) -> publish

decode and colour run on threads of their own joined by bounded queues
(threads.py); the calling thread muxes. Every frame keeps its own timestamp
in the input's time base (variable frame rate survives; broken ones are
repaired, see timestamps.py). The output is written to a temporary file
beside OUT and renamed at the end (files.atomic_output), so a crash or Ctrl-C
leaves nothing at OUT.

Three compositions: a whole film (:func:`colorize_video`), one segment of it,
video only (:func:`render_window`), and the join of finished segments with
every other stream of the source (:func:`join_segments`); segments.py cuts a
film into windows and joins them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import av

from ..encoding import format_for
from ..errors import InputError, OutputError
from ..files import atomic_output
from . import demux, stages
from .layout import OutputPlan, add_video, plan_output
from .mux import Muxer, SegmentPackets, copied_video
from .options import VideoOptions, VideoReport, Window
from .source import Source, check_paths, open_source
from .tags import what_was_lost
from .threads import threaded

if TYPE_CHECKING:
    from ..colorizer import Colorizer

Progress = Callable[[int], None]


def colorize_video(colorizer: Colorizer, src: str | os.PathLike, dst: str | os.PathLike,
                   opts: VideoOptions | None = None, progress: Progress | None = None,
                   on_start: Callable[[int], None] | None = None) -> VideoReport:
    """Colorize the film ``src`` into ``dst``.

    ``progress(n)`` is called as frames are written; ``on_start(total)`` once
    with the expected frame count (0 if unknown). Raises InputError or
    OutputError with a one-line reason; nothing is left at ``dst`` on failure.
    """
    opts = opts or VideoOptions()
    src, dst = Path(src), Path(dst)
    check_paths(src, dst, opts)
    with _opened(src) as source:
        if on_start:
            on_start(source.total)
        return _render(source, dst, opts, progress, colorizer, window=None)


def render_window(colorizer: Colorizer, src: Path, dst: Path, opts: VideoOptions, window: Window,
                  progress: Progress | None = None) -> VideoReport:
    """The frames of ``window`` of the film ``src``, video only, into ``dst`` (a segment)."""
    with _opened(src) as source:
        return _render(source, dst, opts, progress, colorizer, window=window)


def join_segments(src: Path, dst: Path, opts: VideoOptions, segments: list[Path]) -> VideoReport:
    """The film ``src`` into ``dst`` with its video taken, packet by packet, from the
    finished ``segments`` (in order), and every other stream from the source."""
    with _opened(src) as source:
        return _render(source, dst, opts, None, None, window=None, segments=segments)


@contextlib.contextmanager
def _opened(src: Path) -> Iterator[Source]:
    source = open_source(src)
    try:
        yield source
    finally:
        source.close()


def _render(source: Source, dst: Path, opts: VideoOptions, progress: Progress | None, colorizer: Colorizer | None,
            window: Window | None, segments: list[Path] | None = None) -> VideoReport:
    """Write ``dst`` from ``source``, mapping what goes wrong on the way to one line."""
    report = VideoReport(batch_size=opts.batch_size)
    errors: list[BaseException] = []  # the stages' own: a reading error is shown as it is
    try:
        with atomic_output(dst) as tmp:
            try:
                output = av.open(tmp, "w", format=format_for(dst))
            except av.FFmpegError as e:
                raise OutputError(f"cannot write {dst.suffix} files ({e.strerror or e})") from None
            with output:
                plan = plan_output(source, opts, output.format.name, dst.suffix, video_only=window is not None)
                report.add(_report_of(plan))
                if segments is None:
                    muxer = _colour_into(output, source, plan, opts, colorizer, window, report, progress, errors)
                else:
                    muxer = _join_into(output, source, plan, opts, segments, report, errors)
            if report.frames == 0:
                raise InputError("no frames could be decoded")
            if not plan.video_only:
                report.warnings += what_was_lost(source.container, muxer.order, tmp, dst.suffix)
    except OSError as e:
        if any(e is err for err in errors):
            raise
        # the disk filled, a quota or file-size limit, a network share gone...
        raise OutputError(f"cannot write {dst}: {e.strerror or e}") from None
    except av.FFmpegError as e:
        if any(e is err for err in errors):
            raise
        # a muxer or encoder refusing what it was given: a filmcolor bug or an odd source
        raise OutputError(f"FFmpeg refused to write {dst.name} ({e.strerror or e}); "
                          "--debug shows FFmpeg's own message") from e
    return report


def _report_of(plan: OutputPlan) -> VideoReport:
    return VideoReport(notices=list(plan.notices), warnings=list(plan.warnings))


def _colour_into(output, source: Source, plan: OutputPlan, opts: VideoOptions, colorizer: Colorizer,
                 window: Window | None, report: VideoReport, progress: Progress | None,
                 errors: list[BaseException]) -> Muxer:
    # ONNX Runtime comes with these: imported when a film is run, not for --help
    from ..frames import FrameColorizer, FrameLayout

    layout = FrameLayout(source.width, source.height, plan.out_format, plan.matrix, plan.out_space, plan.in_full_range,
                         alpha=plan.alpha)
    seen, coloured = VideoReport(), VideoReport()  # each stage counts in its own report
    frame_colorizer = FrameColorizer(colorizer, layout, opts.batch_size, coloured.notices,
                                     key_interval=opts.key_interval, references=opts.references,
                                     first_frame=window.first_index if window else 0)
    muxer = Muxer(output, source, plan, report, progress or (lambda n: None), add_video(output, source, plan, opts))
    with threaded(lambda: demux.decode(source, plan, opts, muxer.retimer, seen, window),
                  lambda items: stages.colour(items, colorizer, frame_colorizer, opts, coloured),
                  size=max(2, opts.queue_batches) * opts.batch_size) as items:
        try:
            for kind, obj in items:
                if kind == "packet":
                    muxer.write_packet(obj)
                elif window is None or window.writes(obj.pts):  # else coloured for the frames beside it only
                    muxer.write_frame(obj)
        finally:
            errors += items.errors
    muxer.finish()
    report.add(seen)
    report.add(coloured)
    return muxer


def _join_into(output, source: Source, plan: OutputPlan, opts: VideoOptions, paths: list[Path],
               report: VideoReport, errors: list[BaseException]) -> Muxer:
    inputs = [av.open(str(p)) for p in paths]
    try:
        muxer = Muxer(output, source, plan, report, lambda n: None, copied_video(output, source, inputs[0]))
        finished = SegmentPackets(inputs, muxer)
        seen = VideoReport()
        with threaded(lambda: demux.pass_packets(source, plan, muxer.retimer, seen),
                      size=max(2, opts.queue_batches) * opts.batch_size) as items:
            try:
                for _, packet in items:
                    if packet.pts is not None and packet.time_base:  # the video up to this packet's time
                        finished.mux_until(packet.pts * packet.time_base)
                    muxer.write_packet(packet)
            finally:
                errors += items.errors
        finished.mux_until(None)
        muxer.finish(flush_video=False)
        report.add(seen)
        return muxer
    finally:
        for c in inputs:
            c.close()
