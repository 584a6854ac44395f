"""Long films in segments: planned, rendered one by one (or several at once),
kept in a work folder so an interrupted render resumes, then joined.

A film is cut into segments of about ``segment_seconds`` at frame times. Each
segment is rendered by the usual pipeline on a window of the film
(``video.Window``): decoded from the key frame before it, with a few frames
before its start coloured but not written, so that the smoothing and the
colour carried between key frames are warm at the seam, and written as video
only into ``<work>/seg_NNNN.mov`` (``.nut`` for FFV1).
The finished film is one more pass of the pipeline that takes its video
packets from the segments, in order, and audio, subtitles and data from the
source as a single pass would.

Segments are independent tasks: a runner (runners.py: here, a process pool,
or Ray) renders them, each into the work folder beside OUT (manifest.py).
A segment is done the moment its file is complete, so an interrupted render
keeps every finished one, and running the same command again renders only the
rest. The folder is removed when the film is done.

Films whose timestamps need repair (packed B-frames, raw streams, restarting
TS clocks), and outputs that cannot start anywhere but 0 (AVI), are rendered
in one piece: their frame times are only known once the whole film is read.
"""

from __future__ import annotations

import bisect
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from . import manifest
from .errors import FilmcolorError, InputError
from .modelspec import Loaded
from .video import (
    VideoOptions,
    VideoReport,
    Window,
    check_paths,
    colorize_video,
    join_segments,
    render_window,
)
from .video.source import AVFMT_TS_DISCONT

if TYPE_CHECKING:
    from .runners import Outcome, Runner

# frames coloured before a segment's start and after its end, not written: the smoothing's
# memory and the key frames on either side of the seam are then nearly as in one piece
WARM_FRAMES = 48
COOL_FRAMES = 8
MIN_FRAMES = 12  # the shortest last segment: a shorter rest joins the one before


SEGMENT_CONTAINERS = {"ffv1": "nut", "libvpx-vp9": "mp4", "libsvtav1": "mp4"}  # else .mov


@dataclass
class Segment(Window):
    """One segment: the window of the film it renders, its number, and the frames it must hold."""

    index: int = 0
    frames: int = 0  # what the plan counted

    def name(self, codec: str) -> str:
        # QuickTime keeps the time base and the decode times of B-frames; it holds the
        # codecs filmcolor writes but FFV1, which NUT holds (FFV1 has no B-frames to lose),
        # and VP9 and AV1, which FFmpeg writes to the ISO form of the same muxer (.mp4)
        return f"seg_{self.index:04d}.{SEGMENT_CONTAINERS.get(codec, 'mov')}"


def plan(src: Path, segment_seconds: float) -> tuple[list[Segment], str | None]:
    """The segments of ``src``, or none and why it must be rendered in one piece.

    Reads the video packets' times only (no decoding): a few seconds for a feature film.
    """
    try:
        c = av.open(str(src))
    except av.FFmpegError as e:
        raise InputError(f"not a video PyAV can read ({e.strerror or e})") from None
    with c:
        films = [v for v in c.streams.video if not v.disposition & av.stream.Disposition.attached_pic]
        if not films:
            return [], None  # the one-piece run says what is wrong
        v = films[0]
        if c.format.flags & AVFMT_TS_DISCONT:
            return [], "an MPEG-TS/PS clock may restart"
        times, keys, missing = [], [], 0
        for p in c.demux(v):
            if not p.size or p.is_discard:  # discarded: before an edit list's start, decoded but never shown
                continue
            if p.pts is None:
                missing += 1
                continue
            times.append(p.pts)
            if p.is_keyframe:
                keys.append(p.pts)
        tb = v.time_base
    if missing or not times:
        return [], "its frames carry no timestamps of their own"
    times.sort()
    if any(b <= a for a, b in zip(times[:-1], times[1:], strict=True)):
        return [], "its timestamps repeat or need repair"
    keys.sort()
    step = round(Fraction(segment_seconds) / tb)
    starts = [0]  # indices into times
    target = times[0] + step
    while True:
        i = bisect.bisect_left(times, target)
        if i >= len(times) - MIN_FRAMES:  # never a segment of a handful of frames at the end
            break
        starts.append(i)
        target = times[i] + step
    segments = []
    for n, i in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(times)
        end = times[stop] if stop < len(times) else None
        first = max(0, i - WARM_FRAMES)
        warm = times[first]
        k = bisect.bisect_right(keys, warm) - 1
        seek = keys[k] if i > 0 and k >= 0 else None
        cool = times[stop + COOL_FRAMES] if stop + COOL_FRAMES < len(times) else None
        segments.append(Segment(seek=seek, warm=warm, start=times[i], end=end, cool=cool, first_index=first,
                                index=n, frames=stop - i))
    return segments, None


def render_segment(src: str, seg_path: str, opts: VideoOptions, seg: Segment, model,
                   progress: Callable[[int], None] | None = None) -> VideoReport:
    """Render one segment into ``seg_path`` (a runner's task) and mark it done; its
    report. ``model``: a ModelSpec (or Loaded). A segment whose packets are not
    those the plan counted is an error: the file could not be sought as the plan
    assumed."""
    seg_file = Path(seg_path)
    # complete but not yet done: its report is written first, so a segment at its own name always has one
    staged = seg_file.with_name(f".{seg_file.name}")
    report = render_window(model.load(), Path(src), staged, opts, seg, progress)
    if report.window_packets != seg.frames or report.first_pts is None or report.first_pts < seg.start:
        staged.unlink(missing_ok=True)
        raise InputError(f"segment {seg.index} came out with {report.window_packets} frames where the film has "
                         f"{seg.frames} (seeking in this file is not exact): render it in one piece with "
                         "--segment-seconds 0")
    # the packets were right: frames short of them are frames the decoder could not give (damage)
    report.lost_frames = max(0, seg.frames - report.frames - report.damaged_packets)
    manifest.save_report(seg_file, report)
    os.replace(staged, seg_file)
    return report


def render_in_segments(src: str | os.PathLike, dst: str | os.PathLike, opts: VideoOptions, model,
                       segment_seconds: float = 60.0, runner: Runner | None = None, restart: bool = False,
                       colorizer=None, progress: Callable[[int], None] | None = None,
                       on_start: Callable[[int], None] | None = None,
                       say: Callable[[str], None] | None = None) -> VideoReport:
    """Colorize ``src`` into ``dst`` segment by segment, resuming what an earlier,
    interrupted run of the same command finished. ``runner`` renders the segments
    (default: here, with ``colorizer`` when given, else loaded from ``model``, a
    ModelSpec)."""
    from .runners import Serial

    src, dst = Path(src), Path(dst)
    check_paths(src, dst, opts)
    say = say or (lambda text: None)
    progress = progress or (lambda n: None)
    runner = runner or Serial()
    segments, whole = [], None
    if dst.suffix.lower() == ".avi":
        whole = "AVI starts at 0"
    elif segment_seconds > 0:
        segments, whole = plan(src, segment_seconds)
    if len(segments) <= 1:
        if whole:
            say(f"rendered in one piece ({whole}): an interruption starts it again")
        return colorize_video(colorizer or model.load(), src, dst, opts, progress, on_start)
    with manifest.locked(dst):
        return _render_segments(src, dst, opts, model, segment_seconds, runner, restart, colorizer, progress,
                                on_start, say, segments)


def _render_segments(src: Path, dst: Path, opts: VideoOptions, model, segment_seconds: float, runner: Runner,
                     restart: bool, colorizer, progress: Callable[[int], None], on_start, say: Callable[[str], None],
                     segments: list[Segment]) -> VideoReport:
    """render_in_segments once the work folder is this run's."""
    work = manifest.work_folder(dst)
    files = [work / s.name(opts.codec) for s in segments]
    fresh = not work.exists()
    kept = manifest.resume(work, manifest.job_of(manifest.identity(src, opts, model, segment_seconds), segments),
                           files, restart, say)
    if on_start:
        on_start(sum(s.frames for s in segments))
    if kept:
        say(f"resuming: {len(kept)} of {len(segments)} segments already rendered")
        progress(sum(segments[i].frames for i in kept))
    task_model = Loaded(colorizer) if colorizer is not None and runner.name == "here" else model
    todo = [s for s in segments if s.index not in kept]
    try:
        parts, workers = _render_all(runner, src, files, todo, opts, task_model, progress)
    except BaseException:
        if fresh and not any(manifest.load_report(f) for f in files):  # nothing to resume from: no folder left
            shutil.rmtree(work, ignore_errors=True)
        raise
    report = join_segments(src, dst, opts, files)
    shutil.rmtree(work, ignore_errors=True)
    for i, part in sorted({**kept, **parts}.items()):  # what the segments saw, said once; damage where each writes
        report.damaged_packets += part.damaged_packets
        report.lost_frames += part.lost_frames
        report.concealed_frames += part.concealed_frames
        report.notices += [n for n in part.notices if n not in report.notices]
        report.warnings += [w for w in part.warnings if w not in report.warnings]
        if i in kept:
            report.kept_frames += segments[i].frames
    report.notices.append(f"rendered in {len(segments)} segments{runner.where(workers)}"
                          + (f", {len(todo)} of them now" if kept else ""))
    return report


def _render_all(runner: Runner, src: Path, files: list[Path], todo: list[Segment], opts: VideoOptions, model,
                progress: Callable[[int], None]) -> tuple[dict[int, VideoReport], set[str]]:
    """The segments of ``todo`` on ``runner``: their reports, and where they ran. A
    segment refused (an error about the input, which would repeat) ends the run; one
    that crashed after its retries is named once the others have finished."""
    parts: dict[int, VideoReport] = {}
    workers: set[str] = set()
    failed: list[Outcome] = []
    jobs = [(s.index, (str(src), str(files[s.index]), opts, s, model)) for s in todo]
    outcomes = runner.run(render_segment, jobs, progress)
    try:
        for outcome in outcomes:
            if outcome.error is None:
                parts[outcome.key] = outcome.result
                workers.add(outcome.worker.partition(",")[0])
            elif isinstance(outcome.error, FilmcolorError):
                raise outcome.error
            else:
                failed.append(outcome)
    finally:
        outcomes.close()  # a refusal or an interruption: no task goes on
    if failed:
        errors: dict[str, list[int]] = {}  # one line per kind of failure: a dead pool fails every segment alike
        for o in failed:
            errors.setdefault(f"{type(o.error).__name__}: {o.error}", []).append(o.key)
        what = "; ".join(f"segment{'s' * (len(keys) > 1)} {', '.join(map(str, sorted(keys)))}: {error}"
                         for error, keys in errors.items())
        raise FilmcolorError(f"{len(failed)} of {len(todo)} segments failed ({what}); the finished ones are kept: "
                             "run the same command again to render the rest")
    return parts, workers


def render_task(src: str, dst: str, opts: VideoOptions, model, segment_seconds: float, restart: bool,
                progress: Callable[[int], None] | None = None) -> VideoReport:
    """One whole film in another process or on another machine (a runner's task)."""
    return render_in_segments(src, dst, opts, model, segment_seconds, restart=restart, progress=progress)
