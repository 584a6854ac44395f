"""Network cost: the bundled network on ONNX Runtime against torch, and GFLOP
and milliseconds a frame per architecture, head and size.

    python benchmarks/networks.py            # the bundled network: torch eager vs ONNX Runtime
    python benchmarks/networks.py --int8     # the bundled network: float32 vs its int8 copy (films)
    python benchmarks/networks.py --archs [--threads 2] [--batch 8] [--device cpu]

The first table times the bundled network as filmcolor runs it for photos
(its ONNX file on ONNX Runtime's CPU provider: decoding of the head and
upsampling inside the graph) against the same network in torch eager
(BatchNorm folded, channels-last, inference mode, the head decoded and
upsampled as the graph does: what filmcolor ran before), at 128x128 and
128x224 (a 720p frame at --size 128), batch 1 and 8, 1 and 2 threads. The
two are timed in alternating blocks of 4 batches, 5 rounds (see
``alternating``): ms/frame is the median of each one's 20 batches, the ratio
the median of the rounds' ratios. ``--int8`` times the float32 file against
the int8 copy that films run on the CPU (filmcolor/weights/default-int8.onnx)
the same way. ``--archs`` prints the per-architecture table in torch (median of 5).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from common import timed
from torch.utils.flop_counter import FlopCounterMode

from filmcolor.network import INT8_PATH, Network
from train import checkpoint, model

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


def alternating(a: Callable[[], object], b: Callable[[], object], rounds: int = 5, block: int = 4
                ) -> tuple[list[float], list[float], list[float]]:
    """Seconds a call of a and of b, timed in alternating blocks (a b b a a b ...)
    so that a drift of the machine's speed falls on both alike. Each block
    starts with an untimed call (caches warm again after the other) and ends
    with a short pause, so the other starts on a quiet machine. Returns each
    one's timed calls and each round's ratio a/b."""
    ta, tb, ratios = [], [], []
    for r in range(rounds):
        medians = {}
        for fn, out in ((a, ta), (b, tb))[:: 1 if r % 2 == 0 else -1]:
            times = timed(fn, 1, block)
            out += times
            medians[fn] = statistics.median(times)
            time.sleep(0.05)
        ratios.append(medians[a] / medians[b])
    return ta, tb, ratios


def runtimes(shapes=((128, 128), (128, 224)), batches=(1, 8), threads=(1, 2)) -> list[dict]:
    """The bundled network, torch eager against ONNX Runtime: one dict per
    (threads, batch, shape) with the median ms/frame of each (``torch_ms``,
    ``ort_ms``), ``ratio`` (the median of the rounds' ratios, see
    :func:`alternating`) and the largest a/b difference."""
    net, _ = checkpoint.load()
    net = model.fuse_batchnorm(net).to(memory_format=torch.channels_last)
    rows = []
    for t in threads:
        torch.set_num_threads(t)
        onnx = Network(device="cpu", threads=t)
        for n in batches:
            for h, w in shapes:
                L = (np.random.default_rng(0).random((n, 1, h, w)) * 100).astype(np.float32)
                x = (torch.from_numpy(L) / 50 - 1).contiguous(memory_format=torch.channels_last)

                def eager(x=x, size=(h, w)):
                    with torch.inference_mode():
                        return F.interpolate(net.predict_ab(x), size=size, mode="bilinear", align_corners=False)

                def ort(L=L, net=onnx):
                    return net.run(L)

                diff = float(np.abs(eager().numpy() - ort()[0]).max())
                ta, tb, ratios = alternating(eager, ort)
                rows.append({"threads": t, "batch": n, "shape": (h, w),
                             "torch_ms": statistics.median(ta) / n * 1000, "ort_ms": statistics.median(tb) / n * 1000,
                             "ratio": statistics.median(ratios), "ratios": (min(ratios), max(ratios)),
                             "max_diff": diff})
    return rows


def precisions(shapes=((128, 128), (128, 224)), batches=(1, 8), threads=(1, 2)) -> list[dict]:
    """The bundled network's float32 file against its int8 copy, both on ONNX
    Runtime: one dict per (threads, batch, shape) as :func:`runtimes` gives, with
    ``float_ms``, ``int8_ms`` and ``ratio`` (float / int8: the int8 copy's speed-up)."""
    rows = []
    for t in threads:
        f, q = Network(device="cpu", threads=t), Network(INT8_PATH, device="cpu", threads=t)
        for n in batches:
            for h, w in shapes:
                L = (np.random.default_rng(0).random((n, 1, h, w)) * 100).astype(np.float32)
                ta, tb, ratios = alternating(lambda L=L, f=f: f.run(L), lambda L=L, q=q: q.run(L))
                rows.append({"threads": t, "batch": n, "shape": (h, w), "float_ms": statistics.median(ta) / n * 1000,
                             "int8_ms": statistics.median(tb) / n * 1000, "ratio": statistics.median(ratios),
                             "ratios": (min(ratios), max(ratios))})
    return rows


def print_pairs(rows: list[dict], names: tuple[str, str, str], keys: tuple[str, str], diff: bool = False) -> None:
    """A markdown table of :func:`runtimes` or :func:`precisions` rows."""
    print(f"| input (N x 1 x H x W) | threads | {names[0]} | {names[1]} | {names[2]} (rounds' spread) |"
          + (" max a/b difference |" if diff else ""))
    print("|---|---|---|---|---|" + ("---|" if diff else ""))
    for r in rows:
        (h, w), n = r["shape"], r["batch"]
        lo, hi = r["ratios"]
        print(f"| {n} x 1 x {h} x {w} | {r['threads']} | {r[keys[0]]:.1f} ms/frame | {r[keys[1]]:.1f} | "
              f"{r['ratio']:.2f}x ({lo:.2f}-{hi:.2f}) |" + (f" {r['max_diff']:.1g} |" if diff else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", action="store_true", help="the per-architecture table (torch) instead")
    ap.add_argument("--int8", action="store_true", help="the float32 file against its int8 copy instead")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()
    if args.int8:
        print_pairs(precisions(), ("float32", "int8", "speed-up"), ("float_ms", "int8_ms"))
        return
    if not args.archs:
        print_pairs(runtimes(), ("torch eager", "ONNX Runtime CPU", "ratio"), ("torch_ms", "ort_ms"), diff=True)
        return
    rows = measure(args.device, args.threads, args.batch, args.sizes)
    print(f"device {args.device}, {args.threads} threads, batch {args.batch}\n")
    print("| network | M params | size | GFLOP/frame | ms/frame |")
    print("|---|---|---|---|---|")
    for name, p, size, g, ms in rows:
        print(f"| {name} | {p} | {size}x{size} | {g:.2f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
