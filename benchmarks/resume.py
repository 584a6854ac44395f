"""Resume after an interruption with --workers 2: what is kept and what the
rerun costs.

    python benchmarks/resume.py [--clip samples/video/bigbuckbunny.mp4] [--loops 3]
                                [--segment-seconds 3] [--workers 2]

The clip is looped into a longer film (sound included) by FFmpeg's command
line and rendered once uninterrupted. Then, for each point of the progress
bar (a quarter, half, 95%), a fresh render is sent SIGINT when its bar
reaches that point; the table gives how long it took to exit, the segments
left complete in the work folder, the rerun's time against the whole
render's, its summary line, and its output against the uninterrupted one:
frame count, video timestamps, audio packets (bytes and times), and pixels.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from common import REPO


def render(src: Path, dst: Path, *extra: str) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "filmcolor", "video", str(src), str(dst), *extra],
                       capture_output=True, text=True, cwd=REPO, check=True)
    return time.perf_counter() - t, r.stderr


def interrupt_at(src: Path, dst: Path, fraction: float, extra: list[str]) -> tuple[float, int]:
    """Start a render, SIGINT it when the progress bar passes ``fraction``: (seconds to exit, exit code)."""
    # a shell's background job starts with SIGINT ignored, and Python keeps it so: restored here
    proc = subprocess.Popen([sys.executable, "-m", "filmcolor", "video", str(src), str(dst), *extra],
                            stderr=subprocess.PIPE, cwd=REPO,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.set_blocking(proc.stderr.fileno(), False)
    seen = b""
    while proc.poll() is None:
        seen += proc.stderr.read() or b""
        counts = re.findall(rb"(\d+)/(\d+) \[", seen)
        if counts and int(counts[-1][0]) >= fraction * int(counts[-1][1]):
            t = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            return time.perf_counter() - t + _wait(proc), proc.returncode
        time.sleep(0.02)
    return 0.0, proc.returncode


def _wait(proc: subprocess.Popen) -> float:
    t = time.perf_counter()
    proc.wait()
    return time.perf_counter() - t


def streams(path: Path) -> tuple[list, list, list[np.ndarray]]:
    with av.open(str(path)) as c:
        video = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
    with av.open(str(path)) as c:
        audio = [(p.pts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size] if c.streams.audio else []
    with av.open(str(path)) as c:
        pixels = [f.to_ndarray(format="yuv444p") for f in c.decode(video=0)]
    return video, audio, pixels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bigbuckbunny.mp4")
    ap.add_argument("--loops", type=int, default=3)
    ap.add_argument("--segment-seconds", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    extra = ["--segment-seconds", str(args.segment_seconds), "--workers", str(args.workers), "--preset", "ultrafast"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        film = tmp / "film.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", str(args.loops - 1), "-i", str(args.clip),
                        "-c", "copy", str(film)], check=True)
        whole, _ = render(film, tmp / "whole.mkv", *extra)
        truth = streams(tmp / "whole.mkv")
        print(f"{len(truth[0])} frames, {' '.join(extra)}: uninterrupted render {whole:.1f} s")
        print("| SIGINT at | exit took | exit code | segments kept | rerun | rerun / whole | frames | timestamps "
              "| audio packets | pixels | rerun says |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for fraction in (0.25, 0.5, 0.95):
            dst = tmp / f"at{fraction}.mkv"
            took, code = interrupt_at(film, dst, fraction, extra)
            work = tmp / f".{dst.name}.filmcolor"
            kept = len(list(work.glob("seg_*.json")))
            planned = len([p for p in work.glob("seg_*") if p.suffix != ".json"])
            rerun, said = render(film, dst, *extra)
            got = streams(dst)
            line = next((x for x in said.splitlines() if x.startswith("wrote")), "").split(": ", 1)[-1]
            print(f"| {fraction:.0%} | {took:.2f} s | {code} | {kept} (files {planned}) | {rerun:.1f} s "
                  f"| {rerun / whole:.2f} | {len(got[0])} | {got[0] == truth[0]} | {got[1] == truth[1]} "
                  f"| {all(np.array_equal(a, b) for a, b in zip(got[2], truth[2], strict=True))} | {line} |")


if __name__ == "__main__":
    main()
