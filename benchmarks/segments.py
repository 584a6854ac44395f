"""Long films in segments: what resuming saves, what segmenting costs, and
whether the seams show.

    python benchmarks/segments.py [--clip samples/video/bigbuckbunny.mp4] [--loops 12]
                                  [--segment-seconds 10] [--seam-seconds 1]

The clip is looped into a longer film (sound included) by FFmpeg's command line.

1. Speed: `filmcolor video` in one piece (--segment-seconds 0), in segments
   with --workers 1, with --workers 2, and with --ray (a local cluster, when
   Ray is installed) (wall time, fps).
2. Resume: the segmented render is interrupted (SIGINT) once half its
   segments are done and run again; the second run's time against a whole
   render, and its output against the uninterrupted one: frames, timestamps,
   audio packets, and the mean pixel difference.
3. Seams: on the clip itself cut into --seam-seconds segments (FFV1,
   lossless), the mean change of chroma between consecutive frames at the
   seams against all other consecutive frames, for the segmented film and
   for the one-piece film at the same frames.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from common import REPO

from filmcolor import segments


def filmcolor(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "filmcolor", "video", *args, "-q"], check=True, cwd=REPO)
    return time.perf_counter() - t


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv444p").astype(np.int16) for f in c.decode(video=0)]


def stamps(path: Path) -> tuple[list, list]:
    with av.open(str(path)) as c:
        video = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
    with av.open(str(path)) as c:
        audio = [(p.pts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size] if c.streams.audio else []
    return video, audio


def interrupted_then_resumed(src: Path, dst: Path, seconds: float) -> float:
    """Start a segmented render, interrupt it once half its segments are done, run it again: the rerun's time."""
    work = dst.parent / f".{dst.name}.filmcolor"
    planned = len(segments.plan(src, seconds)[0])
    proc = subprocess.Popen([sys.executable, "-m", "filmcolor", "video", str(src), str(dst),
                             "--segment-seconds", str(seconds), "-q"], cwd=REPO)
    while proc.poll() is None:
        try:
            if len(list(work.glob("seg_*.json"))) >= planned // 2:  # a segment's report: it is done
                proc.send_signal(signal.SIGINT)
                break
        except OSError:
            pass
        time.sleep(0.05)
    proc.wait()
    return filmcolor(str(src), str(dst), "--segment-seconds", str(seconds))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bigbuckbunny.mp4")
    ap.add_argument("--loops", type=int, default=12)
    ap.add_argument("--segment-seconds", type=float, default=10.0)
    ap.add_argument("--seam-seconds", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        film = tmp / "film.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", str(args.loops - 1), "-i", str(args.clip),
                        "-c", "copy", str(film)], check=True)
        n = len(stamps(film)[0])
        s = str(args.segment_seconds)
        one = filmcolor(str(film), str(tmp / "one.mp4"), "--segment-seconds", "0")
        seg1 = filmcolor(str(film), str(tmp / "seg1.mp4"), "--segment-seconds", s)
        seg2 = filmcolor(str(film), str(tmp / "seg2.mp4"), "--segment-seconds", s, "--workers", "2")
        rows = [("one piece", one), ("segments, 1 worker", seg1), ("segments, 2 workers", seg2)]
        if importlib.util.find_spec("ray"):  # a local Ray cluster started for the run
            rows.append(("segments, --ray", filmcolor(str(film), str(tmp / "ray.mp4"), "--segment-seconds", s,
                                                       "--ray")))
        print(f"{n} frames, segments of {s} s ({len(segments.plan(film, args.segment_seconds)[0])})")
        for name, t in rows:
            print(f"  {name:<20} {t:6.1f} s  {n / t:5.1f} fps")
        rerun = interrupted_then_resumed(film, tmp / "resumed.mp4", args.segment_seconds)
        print(f"resume: the rerun after an interruption at half took {rerun:.1f} s "
              f"against {seg1:.1f} s for a whole render ({1 - rerun / seg1:.0%} saved)")
        a, b = stamps(tmp / "seg1.mp4"), stamps(tmp / "resumed.mp4")
        fa, fb = frames(tmp / "seg1.mp4"), frames(tmp / "resumed.mp4")
        diff = float(np.mean([np.abs(x - y).mean() for x, y in zip(fa, fb, strict=True)]))
        print(f"  frames {len(fb)} (uninterrupted {len(fa)}), timestamps equal: {a[0] == b[0]}, "
              f"audio packets equal: {a[1] == b[1]}, mean pixel difference {diff:.3f}")

        clip = args.clip
        lossless = ("--codec", "ffv1")
        filmcolor(str(clip), str(tmp / "seams.mkv"), "--segment-seconds", str(args.seam_seconds), *lossless)
        filmcolor(str(clip), str(tmp / "whole.mkv"), "--segment-seconds", "0", *lossless)
        plan = segments.plan(clip, args.seam_seconds)[0]
        seams = set(np.cumsum([p.frames for p in plan])[:-1].tolist())  # index of each segment's first frame
        for name in ("seams.mkv", "whole.mkv"):
            f = frames(tmp / name)
            change = [np.abs(f[i][1:] - f[i - 1][1:]).mean() for i in range(1, len(f))]
            at = [c for i, c in enumerate(change, 1) if i in seams]
            rest = [c for i, c in enumerate(change, 1) if i not in seams]
            print(f"seams ({name}, {len(plan)} segments): chroma change between frames at the seams "
                  f"{np.mean(at):.3f}, elsewhere {np.mean(rest):.3f}")


if __name__ == "__main__":
    main()
