"""Network cost: GFLOP and milliseconds a frame, per architecture, head and size.

    python benchmarks/networks.py [--threads 2] [--batch 8] [--device cpu]

Prints a Markdown table. ms/frame is the median of 5 timed batches after 2
warm-up batches, inference mode, BatchNorm folded into the convolutions and
channels-last on the CPU, as ``Colorizer`` runs them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from filmcolor import checkpoint, model

CONFIGS = [
    ("unet", {"channels": [16, 32, 64, 128, 256]}, "regression"),
    ("unet", {"channels": [16, 32, 64, 128, 256]}, "classify"),
    ("effunet", {}, "regression"),
    ("effunet", {}, "classify"),
    ("effunet", {"encoder": "lite1"}, "classify"),
    ("effunet", {"encoder": "lite2"}, "classify"),
]


def gflop(net, x) -> float:
    with FlopCounterMode(display=False) as counter:
        net.predict_ab(x)
    return counter.get_total_flops() / 1e9 / len(x)


def ms_per_frame(net, x, repeats: int = 5) -> float:
    for _ in range(2):
        net.predict_ab(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        net.predict_ab(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times) / len(x) * 1000


def measure(device_name: str = "cpu", threads: int = 2, batch: int = 8, sizes=(128, 256)) -> list[tuple]:
    """Rows of (network, M params, size, GFLOP/frame, ms/frame)."""
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    _, default = checkpoint.load()
    rows = []
    for arch, params, head in CONFIGS:
        net = model.fuse_batchnorm(model.build(arch, {**params, "head": {"kind": head}})).to(device)
        if device.type == "cpu":
            net = net.to(memory_format=torch.channels_last)
        encoder = params.get("encoder", "lite0") if arch == "effunet" else ""
        is_default = (default.arch == arch and default.params["head"]["kind"] == head
                      and default.params.get("encoder", "lite0") == (encoder or None))
        mark = " (default)" if is_default else ""
        params_m = sum(p.numel() for p in net.parameters()) / 1e6
        for size in sizes:
            x = torch.rand(batch, 1, size, size, device=device) * 2 - 1
            if device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                rows.append((f"{arch} {encoder} {head}{mark}".replace("  ", " "), f"{params_m:.2f}", size, gflop(net, x), ms_per_frame(net, x)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()
    rows = measure(args.device, args.threads, args.batch, args.sizes)
    print(f"device {args.device}, {args.threads} threads, batch {args.batch}\n")
    print("| network | M params | size | GFLOP/frame | ms/frame |")
    print("|---|---|---|---|---|")
    for name, p, size, g, ms in rows:
        print(f"| {name} | {p} | {size}x{size} | {g:.2f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
