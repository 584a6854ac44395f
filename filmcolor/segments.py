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

The work folder ``.<OUT name>.filmcolor/`` beside OUT holds ``manifest.json``:
the source's identity (size, modification time), the options and model that
shape the pixels, and the segment plan. Running the same command again renders
only the segments that are missing; a changed source, model or option starts
afresh (said). The folder is removed when the film is done.

Films whose timestamps need repair (packed B-frames, raw streams, restarting
TS clocks), and outputs that cannot start anywhere but 0 (AVI), are rendered
in one piece: their frame times are only known once the whole film is read.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av

from .errors import FilmcolorError, InputError
from .modelspec import ModelSpec
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

# frames coloured before a segment's start and after its end, not written: the smoothing's
# memory and the key frames on either side of the seam are then nearly as in one piece
WARM_FRAMES = 48
COOL_FRAMES = 8
MIN_FRAMES = 12  # the shortest last segment: a shorter rest joins the one before
MANIFEST = "manifest.json"


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
            if not p.size:
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


def _identity(src: Path, opts: VideoOptions, model: ModelSpec, segment_seconds: float) -> dict:
    """What must match for finished segments to be reused."""
    st = src.stat()
    shaping = {k: v for k, v in asdict(opts).items() if k not in ("references", "queue_batches", "cpu_threads")}
    refs = [(t, r.digest()) for t, r in opts.references]
    model_id = None
    if model.path:
        mst = Path(model.path).stat()
        model_id = [str(Path(model.path).resolve()), mst.st_size, mst.st_mtime_ns]
    return {"source": [str(src.resolve()), st.st_size, st.st_mtime_ns], "options": shaping, "references": refs,
            "model": model_id, "size": model.size, "segment_seconds": segment_seconds}


def _render(src: str, seg_path: str, opts: VideoOptions, seg: Segment, model: ModelSpec,
            colorizer=None, progress: Callable[[int], None] | None = None) -> VideoReport:
    """Render one segment into ``seg_path`` (a worker's job); returns its report.
    A segment that does not hold the frames the plan counted is an error: the
    file could not be read or sought as the plan assumed."""
    colorizer = colorizer or model.load()
    report = render_window(colorizer, Path(src), Path(seg_path), opts, seg, progress)
    frames = report.frames
    if frames != seg.frames and report.first_pts != seg.start:
        Path(seg_path).unlink(missing_ok=True)
        raise InputError(f"segment {seg.index} came out with {frames} frames where the film has {seg.frames} "
                         "(seeking in this file is not exact): render it in one piece with --segment-seconds 0")
    # the seek was right: frames short of the plan are frames the decoder could not give (damage)
    report.lost_frames = max(0, seg.frames - frames - report.damaged_packets)
    return report


def _render_in_worker(src: str, seg_path: str, opts: VideoOptions, seg: Segment, model: ModelSpec,
                      counts) -> VideoReport:
    return _render(src, seg_path, opts, seg, model, progress=counts.put)


def render_in_segments(src: str | os.PathLike, dst: str | os.PathLike, opts: VideoOptions, model: ModelSpec,
                       segment_seconds: float = 60.0, workers: int = 1, restart: bool = False,
                       colorizer=None, progress: Callable[[int], None] | None = None,
                       on_start: Callable[[int], None] | None = None,
                       say: Callable[[str], None] | None = None, ray: str | None = None) -> VideoReport:
    """Colorize ``src`` into ``dst`` segment by segment, resuming what an earlier,
    interrupted run of the same command finished. ``workers`` segments render at
    once (processes, each loading the model from ``model``); with 1, in this
    process with ``colorizer`` when given. ``ray``: a Ray cluster's address
    ('auto', 'local' or host:port) whose nodes render the segments instead."""
    src, dst = Path(src), Path(dst)
    check_paths(src, dst, opts)
    say = say or (lambda text: None)
    progress = progress or (lambda n: None)
    segments, whole = [], None
    if dst.suffix.lower() == ".avi":
        whole = "AVI starts at 0"
    elif segment_seconds > 0:
        segments, whole = plan(src, segment_seconds)
    if len(segments) <= 1:
        if whole:
            say(f"rendered in one piece ({whole}): an interruption starts it again")
        return colorize_video(colorizer or model.load(), src, dst, opts, progress, on_start)
    work = dst.parent / f".{dst.name}.filmcolor"
    identity = _identity(src, opts, model, segment_seconds)
    done = _resumable(work, identity, segments, opts.codec, restart, say)
    if on_start:
        on_start(sum(s.frames for s in segments))
    work.mkdir(exist_ok=True)

    def saved() -> None:
        _write_manifest(work, identity, segments, done)

    saved()
    if done:
        say(f"resuming: {len(done)} of {len(segments)} segments already rendered")
        progress(sum(segments[i].frames for i in done))
    todo = [s for s in segments if s.index not in done]
    resumed = bool(done)
    parts: list[VideoReport] = []
    try:
        if ray is not None:
            parts = _render_on_ray(src, work, todo, opts, model, ray, progress, done, saved)
        elif workers <= 1 or len(todo) <= 1:
            for seg in todo:
                parts.append(_render(str(src), str(work / seg.name(opts.codec)), opts, seg, model, colorizer,
                                     progress))
                done.add(seg.index)
                saved()
        else:
            parts = _render_parallel(src, work, todo, opts, model, workers, progress, done, saved)
    except BaseException:
        if not done:  # nothing to resume from: no empty hidden folder left beside OUT
            shutil.rmtree(work, ignore_errors=True)
        raise
    report = join_segments(src, dst, opts, [work / s.name(opts.codec) for s in segments])
    shutil.rmtree(work, ignore_errors=True)
    for part in parts:  # what the segments saw, said once; damage counted where each segment writes
        report.damaged_packets += part.damaged_packets
        report.lost_frames += part.lost_frames
        report.concealed_frames += part.concealed_frames
        report.notices += [n for n in part.notices if n not in report.notices]
        report.warnings += [w for w in part.warnings if w not in report.warnings]
    report.notices.append(f"rendered in {len(segments)} segments" + (f", {len(todo)} of them now" if resumed else ""))
    return report


def _render_parallel(src: Path, work: Path, todo: list[Segment], opts: VideoOptions, model: ModelSpec,
                     workers: int, progress: Callable[[int], None], done: set[int],
                     saved: Callable[[], None]) -> list[VideoReport]:
    """Segments on a pool of processes; frames are counted through a queue as they are written."""
    reports = []
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked ONNX Runtime or FFmpeg threads
    with ctx.Manager() as manager, concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        counts = manager.Queue()
        jobs = {pool.submit(_render_in_worker, str(src), str(work / s.name(opts.codec)), opts, s, model, counts): s
                for s in todo}
        pending = set(jobs)
        while pending:
            finished, pending = concurrent.futures.wait(pending, timeout=0.2,
                                                        return_when=concurrent.futures.FIRST_COMPLETED)
            drain(counts, progress)
            for job in finished:
                reports.append(job.result())  # a segment's error ends the run; finished ones stay for a rerun
                done.add(jobs[job].index)
                saved()
        drain(counts, progress)
    return reports


def render_task(src: str, dst: str, opts: VideoOptions, model: ModelSpec, segment_seconds: float,
                restart: bool, counts) -> VideoReport:
    """One whole film in another process or on another machine (a Ray task)."""
    return render_in_segments(src, dst, opts, model, segment_seconds, restart=restart, progress=counts.put)


def _render_on_ray(src: Path, work: Path, todo: list[Segment], opts: VideoOptions, model: ModelSpec,
                   address: str, progress: Callable[[int], None], done: set[int],
                   saved: Callable[[], None]) -> list[VideoReport]:
    """Segments as Ray tasks (cluster.py); a segment that fails after its retries
    is named once the others have finished, which stay for a rerun."""
    from . import cluster

    cluster.connect(address)
    reports, failed = [], []

    def finished(seg: Segment, report: VideoReport) -> None:
        reports.append(report)
        done.add(seg.index)
        saved()

    calls = [(s, (str(src), str(work / s.name(opts.codec)), opts, s, model)) for s in todo]
    cluster.run_tasks(_render_in_worker, calls, cluster.gpus_for(model.device), progress, finished,
                      lambda seg, e: failed.append(f"segment {seg.index}: {e}"))
    if failed:
        raise FilmcolorError(f"{len(failed)} of {len(todo)} segments failed ({'; '.join(failed)}); "
                             "the others are kept: run the same command again to retry those")
    return reports


def drain(counts, progress: Callable[[int], None]) -> None:
    """Hand the frame counts workers put on ``counts`` (a queue) to ``progress``, at once."""
    n = 0
    while not counts.empty():
        n += counts.get()
    if n:
        progress(n)


def _resumable(work: Path, identity: dict, segments: list[Segment], codec: str, restart: bool,
               say: Callable[[str], None]) -> set[int]:
    """Indices of segments an earlier run finished for the same job; clears the folder otherwise."""
    manifest = work / MANIFEST
    if not manifest.exists():
        if work.exists():
            shutil.rmtree(work)
        return set()
    try:
        old = json.loads(manifest.read_text())
    except (OSError, ValueError):
        old = {}
    same = (old.get("identity") == json.loads(json.dumps(identity))
            and old.get("segments") == [asdict(s) for s in segments])
    if restart or not same:
        if not restart:
            changed = [k for k in identity if old.get("identity", {}).get(k) != json.loads(json.dumps(identity[k]))]
            say(f"starting afresh: the earlier, unfinished render differs in {', '.join(changed) or 'its plan'}")
        shutil.rmtree(work)
        return set()
    return {i for i in old.get("done", []) if (work / segments[i].name(codec)).exists()}


def _write_manifest(work: Path, identity: dict, segments: list[Segment], done: set[int]) -> None:
    tmp = work / (MANIFEST + ".part")
    tmp.write_text(json.dumps({"identity": identity, "segments": [asdict(s) for s in segments],
                               "done": sorted(done)}, indent=1))
    os.replace(tmp, work / MANIFEST)
