"""Still photos: pictures per second at 12 megapixels, and peak memory for huge inputs.

    python benchmarks/images.py [--count 6] [--size S] [--huge]

Throughput is measured in-process after loading the model (read, colorize,
write JPEG), over `--count` 4000x3000 JPEGs made from samples/street.jpg.
Peak memory is the maximum resident set of a separate `filmcolor image` run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import REPO, run_measured

from filmcolor import Colorizer
from filmcolor.images import ImageOptions, colorize_file, plan_jobs


def make_photos(folder: Path, count: int) -> list[Path]:
    grey = cv2.imread(str(REPO / "samples" / "street.jpg"), cv2.IMREAD_GRAYSCALE)
    big = cv2.resize(grey, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 6, big.shape)  # film grain, so JPEG is not trivial
    big = np.clip(big + noise, 0, 255).astype(np.uint8)
    paths = []
    for i in range(count):
        p = folder / f"photo{i}.jpg"
        cv2.imwrite(str(p), np.roll(big, 37 * i, axis=1), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(p)
    return paths


def throughput(folder: Path, paths: list[Path], size: int | None) -> tuple[float, float, int]:
    """(pictures/s, seconds each, the size the network saw them at)."""
    colorizer = Colorizer.load(device="cpu", size=size)
    jobs = plan_jobs(paths, folder / "out")
    colorize_file(colorizer, jobs[0], ImageOptions())  # warm-up
    t = time.perf_counter()
    for job in jobs:
        assert colorize_file(colorizer, job, ImageOptions()).ok
    seconds = time.perf_counter() - t
    return len(jobs) / seconds, seconds / len(jobs), colorizer.size


def huge(folder: Path, side: int, limit: float | None) -> tuple[float, float, int]:
    path = folder / f"huge{side}.png"
    if not path.exists():
        row = np.linspace(0, 255, side, dtype=np.float32).astype(np.uint8)
        img = np.broadcast_to(row, (side, side))
        cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    args = [shutil.which("filmcolor") or "filmcolor", "image", str(path), "-o", str(folder / "huge_out.png"), "-q"]
    if limit:
        args += ["--max-megapixels", str(limit)]
    return run_measured(args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--size", type=int, default=None, help="network's short side (default: the model's photo size)")
    ap.add_argument("--huge", action="store_true", help="also colorize a real 30000x30000 picture (slow)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_photos(folder, args.count)
        per_s, sec, size = throughput(folder, paths, args.size)
        print(f"12 MP JPEG (4000x3000), --size {size}: {per_s:.2f} pictures/s ({sec:.2f} s each)")
        s, mb, rc = huge(folder, 30000, None)
        print(f"30000x30000 PNG, default limit: exit {rc} (refused from the header), peak {mb:.0f} MB, {s:.1f} s")
        if args.huge:
            s, mb, rc = huge(folder, 30000, 1000)
            print(f"30000x30000 PNG, --max-megapixels 1000: exit {rc}, peak {mb:.0f} MB, {s:.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
