"""Every speed and quality figure the README quotes, in one table.

    python benchmarks/run_all.py [--quick]

Runs, in this order: network cost (benchmarks/networks.py: the bundled
network on ONNX Runtime against torch, then each architecture in torch), photos per second
and peak memory (images.py), film speed against a plain transcode and peak
memory (video.py), flicker with and without smoothing (flicker.py). Each
script also runs alone with more options. --quick skips the slow parts (the
30000x30000 picture and the 1080p memory films). Takes about 10 minutes on
2 cores without --quick.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import flicker
import images
import networks
import onnxruntime as ort
import video
from common import REPO


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = "CUDA provider present" if "CUDAExecutionProvider" in ort.get_available_providers() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}; onnxruntime {ort.__version__}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    for r in networks.runtimes(threads=(2,), batches=(8,)):
        (h, w) = r["shape"]
        rows.append((f"bundled network, {h}x{w}, CPU 2 threads, batch 8: torch eager / ONNX Runtime",
                     f"{r['torch_ms']:.1f} / {r['ort_ms']:.1f} ms/frame ({r['ratio']:.2f}x)"))
    for name, _, size, g, ms in networks.measure("cpu", 2, 8, (128, 256)):
        rows.append((f"network {name}, {size}x{size}, torch, CPU 2 threads, batch 8", f"{ms:.1f} ms/frame ({g:.2f} GFLOP)"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = images.make_photos(folder, 4)
        per_s, sec, _ = images.throughput(folder, paths, None)
        rows.append(("photos: 12 MP JPEG, read + colorize + write, default --size", f"{per_s:.2f} pictures/s"))
        _, mb, rc = images.huge(folder, 30000, None)
        rows.append(("photos: 30000x30000 PNG, default limit (refused from its header)", f"exit {rc}, peak {mb:.0f} MB"))
        if not args.quick:
            s, mb, rc = images.huge(folder, 30000, 1000)
            rows.append(("photos: 30000x30000 PNG colorized (--max-megapixels 1000)", f"exit {rc}, peak {mb:.0f} MB, {s:.0f} s"))
        clip = REPO / "samples" / "video" / "bigbuckbunny.mp4"
        for label, src in (("clean animation", clip), ("grainy b/w copy", video.grainy_copy(clip, folder / "g.mp4"))):
            t_fps, c_fps = video.speed(src, 2, "medium", None, 8)
            rows.append((f"film 720p {label}: transcode / filmcolor fps (x264 crf 18 medium)",
                         f"{t_fps:.1f} / {c_fps:.1f} fps, ratio {c_fps / t_fps:.2f}"))
    if not args.quick:
        for n, mb, fps in video.memory():
            rows.append((f"film 1080p, {n} frames: peak memory (preset ultrafast)", f"{mb:.0f} MB ({fps:.1f} fps)"))
    f = flicker.run(REPO / "samples" / "video" / "bikes.mp4")
    rows.append(("flicker removed by smoothing, bikes.mp4 (consistency / warp error)",
                 f"{f['removed']['consistency']:.0%} / {f['removed']['warp']:.0%}"))
    rows.append(("PSNR change from smoothing, bikes.mp4", f"{f['psnr_change']:+.2f} dB"))
    m = f["measures"]
    rows.append(("a/b error on moving pixels, bikes.mp4, every frame through the network, unsmoothed / default",
                 f"{m['raw']['moving']:.2f} / {m['smoothed']['moving']:.2f}"))
    rows.append(("cuts in bikes.mp4 / colour carried across one", f"{len(f['cuts'])} / {len(f['crossed'])}"))
    print(f"machine: {machine()}\n")
    print("| measure | figure |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
