"""Where a film's colour stage spends its time, part by part, alone on the CPU.

    python benchmarks/colour_stage.py [--clip samples/video/bigbuckbunny.mp4] [--loops 3]
                                      [--key-interval 4] [--batch 8] [--threads 1]

Decodes the clip (--loops times over, in memory) and runs the colour stage
of `filmcolor video` on it as the film pipeline does (frames.FrameColorizer
with the smoother, batches of --batch, the network on --threads threads as
on a 2-core machine), without decoding or encoding: ms per film frame of
the whole stage and of each part (the parts nest: the network is inside
``predict``, OpenCV's resize inside ``shrink`` and the chroma upsampling).
Under x264 each part costs more (the two share the cores and caches); the
film's ratio to a plain transcode is benchmarks/video.py's.
"""

from __future__ import annotations

import argparse
import collections
import functools
import time
from pathlib import Path

import av
from common import REPO

import filmcolor.colorizer as colorizer_mod
import filmcolor.frames as frames_mod
import filmcolor.temporal as temporal
from filmcolor import Colorizer, color
from filmcolor.encoding import color_matrix
from filmcolor.frames import FrameColorizer, FrameLayout

PARTS = [
    (frames_mod, "shrink"), (color, "clamp_ab"), (color, "lab_to_rgb"), (color, "rgb_to_chroma"),
    (frames_mod.cv2, "resize"), (temporal.Smoother, "observe"), (temporal.Smoother, "blend"),
    (FrameColorizer, "predict"), (colorizer_mod.Colorizer, "ab_small"),
]


def timed_parts(seconds: collections.Counter) -> None:
    """Wrap each of PARTS so that its calls add their seconds to ``seconds``."""
    for owner, name in PARTS:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def wrapper(*args, _fn=fn, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                seconds[_name] += time.perf_counter() - t

        setattr(owner, name, wrapper)


def profile(clip: Path, loops: int, key_interval: int, batch: int, threads: int) -> tuple[int, float, dict]:
    """(frames, ms/frame of the stage, {part: ms/frame})."""
    with av.open(str(clip)) as f:
        decoded = list(f.decode(video=0))
    colorizer = Colorizer.load(device="cpu", films=True)
    colorizer.set_threads(threads)
    f0 = decoded[0]
    matrix, space = color_matrix(f0.colorspace, f0.height)
    layout = FrameLayout(f0.width, f0.height, "yuv420p", matrix, space, False)
    fc = FrameColorizer(colorizer, layout, batch, [], key_interval=key_interval)
    smoother = temporal.Smoother()
    seconds: collections.Counter = collections.Counter()
    timed_parts(seconds)
    t = time.perf_counter()
    for k in range(loops):
        if k:
            smoother.reset()  # each loop is a new shot, as a cut would make it
        for i in range(0, len(decoded), batch):
            fc.colorize(decoded[i : i + batch], smoother)
    total = time.perf_counter() - t
    n = len(decoded) * loops
    return n, total / n * 1000, {k: v / n * 1000 for k, v in seconds.most_common()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bigbuckbunny.mp4")
    ap.add_argument("--loops", type=int, default=3)
    ap.add_argument("--key-interval", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    n, total, parts = profile(args.clip, args.loops, args.key_interval, args.batch, args.threads)
    print(f"{args.clip.name}, {n} frames, key frames every {args.key_interval}, network on {args.threads} thread(s)\n")
    print("| part | ms per film frame |")
    print("|---|---|")
    print(f"| colour stage, all of it | {total:.2f} |")
    for name, ms in parts.items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
