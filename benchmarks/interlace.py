"""Does colour comb or bleed between the fields of interlaced video?

    python benchmarks/interlace.py [--clip samples/video/bikes.mp4] [--seconds 8]

A real clip is made interlaced the way a broadcast camera records it: each
output frame weaves two consecutive source frames as its top and bottom
fields (FFmpeg's tinterlace), encoded interlaced by x264. A progressive copy
takes every second source frame. Both go through `filmcolor video` (FFV1,
lossless, so encoding noise does not count). Reported: "comb", the mean
absolute difference between each line and the mean of its two neighbours,
for luma and for each chroma plane. Woven moving fields make the luma's comb
several times the progressive one's; the colour, computed from the whole
frame at low resolution, should comb no more than the progressive film's.
Needs FFmpeg's command line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent


def comb(plane: np.ndarray) -> float:
    p = plane.astype(np.float32)
    return float(np.abs(p[1:-1] - (p[:-2] + p[2:]) / 2).mean())


def plane(p, w: int, h: int) -> np.ndarray:
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:h, :w]


def combs(path: Path) -> tuple[float, float, float]:
    y, u, v = [], [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            y.append(comb(plane(f.planes[0], f.width, f.height)))
            u.append(comb(plane(f.planes[1], f.width // 2, f.height // 2)))
            v.append(comb(plane(f.planes[2], f.width // 2, f.height // 2)))
    return float(np.mean(y)), float(np.mean(u)), float(np.mean(v))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bikes.mp4")
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        made = {
            "interlaced": ["-vf", "tinterlace=interleave_top,setfield=tff", "-c:v", "libx264",
                           "-flags", "+ildct+ilme", "-x264-params", "tff=1"],
            "progressive": ["-vf", "select=not(mod(n\\,2))", "-fps_mode", "passthrough", "-c:v", "libx264"],
        }
        print(f"{args.clip.name}, {args.seconds:g} s   comb: luma  chroma U  chroma V")
        for name, how in made.items():
            src, out = tmp / f"{name}.mp4", tmp / f"{name}_colour.mkv"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(args.clip), "-t", str(args.seconds), "-an", *how,
                            str(src)], check=True)
            subprocess.run([sys.executable, "-m", "filmcolor", "video", str(src), str(out), "--codec", "ffv1", "-q"],
                           check=True, cwd=REPO)
            y, u, v = combs(out)
            print(f"{name:>12}  {y:16.3f}  {u:8.3f}  {v:8.3f}")


if __name__ == "__main__":
    main()
