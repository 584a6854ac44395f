"""The work folder of a film rendered in segments, ``.<OUT name>.filmcolor/``
beside OUT: what lets an interrupted render resume.

``manifest.json`` holds the job's identity (the source's size and
modification time, the options and model that shape the pixels, the
segment plan). Each segment is written under a hidden name (files.atomic_output
finishes it there), its report is written beside it (``seg_NNNN.json``), and
only then is it renamed to its own name: a segment at its own name is done,
with its report, whatever ran it and however the run ended. A changed source, model or option
starts afresh (said).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import OutputError
from .network import bundled_path
from .video import VideoOptions, VideoReport

if TYPE_CHECKING:
    from .modelspec import ModelSpec
    from .segments import Segment

MANIFEST = "manifest.json"


def work_folder(dst: Path) -> Path:
    return dst.parent / f".{dst.name}.filmcolor"


@contextlib.contextmanager
def locked(dst: Path) -> Iterator[None]:
    """Hold OUT's work folder for this run: a second run on the same output is
    refused (it would take over or delete the first's segments) while the first
    lives. An OS lock (flock), so a run that died holds nothing. Where the OS
    has no flock (Windows), nothing is locked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = dst.parent / f".{dst.name}.filmcolor.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise OutputError(f"another filmcolor ({holder}) is rendering {dst}: wait for it to end, or stop it "
                              "(its finished segments are kept for a rerun)") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}")
        f.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def identity(src: Path, opts: VideoOptions, model: ModelSpec, segment_seconds: float) -> dict:
    """What must match for finished segments to be reused."""
    st = src.stat()
    shaping = {k: v for k, v in asdict(opts).items() if k not in ("references", "queue_batches", "cpu_threads")}
    refs = [(t, r.digest()) for t, r in opts.references]
    # the bundled model too: a new filmcolor may bring new colour, which must not join old segments
    path = Path(model.path) if model.path else bundled_path(model.device, model.films)
    mst = path.stat()
    model_id = [str(path.resolve()), mst.st_size, mst.st_mtime_ns]
    return {"source": [str(src.resolve()), st.st_size, st.st_mtime_ns], "options": shaping, "references": refs,
            "model": model_id, "size": model.size, "segment_seconds": segment_seconds}


def report_path(segment_file: Path) -> Path:
    return segment_file.with_suffix(".json")


def save_report(segment_file: Path, report: VideoReport) -> None:
    """Mark a complete segment done, with what its render said (kept for the summary of a resume)."""
    path = report_path(segment_file)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(asdict(report)))
    os.replace(tmp, path)


def load_report(segment_file: Path) -> VideoReport | None:
    """The report of a done segment; None if the segment is not done."""
    path = report_path(segment_file)
    if not segment_file.exists() or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(VideoReport)}
        return VideoReport(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError):
        return None


def resume(work: Path, job: dict, files: list[Path], restart: bool, say: Callable[[str], None]
           ) -> dict[int, VideoReport]:
    """Open the work folder for ``job`` (its identity and plan): the reports of the
    segments (indices into ``files``) an earlier run finished. A folder of another
    job, or any with ``restart``, is cleared; leftovers of interrupted writes go."""
    manifest = work / MANIFEST
    old: dict = {}
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = {}
    same = old == json.loads(json.dumps(job))
    if work.exists() and (restart or not same):
        if old and not restart:
            changed = [k for k in job["identity"] if old.get("identity", {}).get(k) != json.loads(json.dumps(job["identity"][k]))]
            say(f"starting afresh: the earlier, unfinished render differs in {', '.join(changed) or 'its plan'}")
        shutil.rmtree(work)
    work.mkdir(exist_ok=True)
    for leftover in work.glob(".*"):  # a segment being written when the run was stopped
        leftover.unlink(missing_ok=True)
    tmp = manifest.with_name(MANIFEST + ".part")
    tmp.write_text(json.dumps(job, indent=1))
    os.replace(tmp, manifest)
    return {i: r for i, f in enumerate(files) if (r := load_report(f)) is not None}


def job_of(identity: dict, segments: list[Segment]) -> dict:
    return {"identity": identity, "segments": [asdict(s) for s in segments]}
