"""A film's whole process against a plain transcode's, in pairs.

    python benchmarks/film_process.py [--clip FILM] [--pairs 6] [--model M.onnx]

Runs `filmcolor video CLIP OUT -q --device cpu` and a plain PyAV decode +
libx264 encode of the same clip (benchmarks/transcode.py, which imports only PyAV; crf 18,
medium, as its own process) in turn, PAIRS times each after one untimed pair,
and prints each one's median wall and CPU seconds (the children's, from
``resource``) and the median of the pairs' ratios transcode / filmcolor: the
film's speed as a share of the transcode's, start-up (imports, model) included.
Pairing keeps the ratio meaningful when the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

HERE = Path(__file__).parent


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``cmd``, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bigbuckbunny.mp4")
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--model", type=Path, help="an .onnx model file (default: what filmcolor video picks)")
    args = ap.parse_args()
    exe = shutil.which("filmcolor") or sys.exit("filmcolor is not installed (pip install -e .)")
    with tempfile.TemporaryDirectory() as tmp:
        film = [exe, "video", str(args.clip), os.path.join(tmp, "c.mp4"), "-q", "--device", "cpu"]
        film += ["--model", str(args.model)] if args.model else []
        code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); from pathlib import Path; from transcode import "
                f"transcode; transcode(Path({str(args.clip)!r}), Path({os.path.join(tmp, 't.mp4')!r}), 'medium', 18)")
        plain = [sys.executable, "-c", code]
        runs: dict[str, list[tuple[float, float]]] = {"filmcolor": [], "transcode": []}
        for i in range(args.pairs + 1):
            pair = [("filmcolor", film), ("transcode", plain)]
            for name, cmd in pair if i % 2 else pair[::-1]:
                t = timed(cmd)
                if i:
                    runs[name].append(t)
    ratios = [t[0] / f[0] for f, t in zip(runs["filmcolor"], runs["transcode"], strict=True)]
    for name, r in runs.items():
        print(f"{name}: wall {statistics.median(w for w, _ in r):.2f} s, CPU {statistics.median(c for _, c in r):.2f} s "
              f"(medians of {len(r)})")
    print(f"{args.clip.name}: filmcolor at {statistics.median(ratios):.3f} of the transcode's speed, whole process "
          f"(median of {len(ratios)} pairs; spread {min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
