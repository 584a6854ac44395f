"""Flicker with and without temporal smoothing, on a real clip made grey.

    python benchmarks/flicker.py [--clip samples/video/bikes.mp4] [--size 128] [--model M.onnx] [--chroma-memory 0.8 ...]
        [--strength 0.9 ...]

The clip's colour frames are the truth. A grey copy (U = V = neutral,
lossless FFV1) goes through `colorize_video` with and without smoothing
(lossless FFV1 out, so encoding noise does not count). Reported per version:

- colour consistency: Jensen-Shannon divergence of a/b histograms between
  frames t and t+1, t+2, t+4 (lower is steadier);
- warp error: mean |frame t - frame t-1 warped by DIS optical flow| over
  consistently tracked pixels, 0..1 scale (pairs across a cut left out);
- PSNR against the true colour;
- the a/b error (LAB units) against the truth on moving pixels only (grey
  changed by more than 12 levels since the previous frame): colour smeared
  or carried onto moving things raises it;
- static flicker and drift: the mean |da| + |db| between frames t and t+1,
  t+5 and t+25 (one shot) on pixels whose true lightness moved less than
  1 L unit between them (metrics.static_drift): 1 frame is jitter, 25 frames
  is colour that drifts between key frames;
- spread of the frame's mean chroma within a shot (metrics.chroma_spread):
  colour that breathes while the scene stays.

"Flicker removed" compares what each version adds above the truth's own
frame-to-frame change: 1 - (smooth - truth) / (raw - truth). At every cut of
the truth, the smoothed frame must equal the unsmoothed one: no colour
crosses a cut.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
from common import REPO

from filmcolor import Colorizer, metrics
from filmcolor.temporal import SmoothConfig
from filmcolor.video import VideoOptions, colorize_video

GAPS = (1, 5, 25)  # frames over which static pixels' colour change is measured


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def write_grey(frames: list[np.ndarray], path: Path, rate: int) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        s = out.add_stream("ffv1", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            f.planes[1].update(np.full((f.planes[1].height, f.planes[1].line_size), 128, np.uint8))
            f.planes[2].update(np.full((f.planes[2].height, f.planes[2].line_size), 128, np.uint8))
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def find_cuts(frames: list[np.ndarray]) -> list[int]:
    """Scene cuts of RGB frames (metrics.find_cuts on their grey): independent of
    the smoother's own detector, which it checks."""
    return metrics.find_cuts([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])


def measures(frames, truth, cuts) -> dict:
    greys = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in truth]
    warp = [
        metrics.warp_error(greys[t - 1], greys[t], frames[t - 1] / 255.0, frames[t] / 255.0)
        for t in range(1, len(frames)) if t not in cuts
    ]
    psnr = [cv2.PSNR(f, g) for f, g in zip(frames, truth, strict=True)]
    # colour error where things move: pixels whose grey changed by more than
    # 12 levels since the previous frame (no cut between); smearing shows here
    moving = []
    for t in range(1, len(frames)):
        mask = np.abs(greys[t].astype(np.int16) - greys[t - 1]) > 12
        if t not in cuts and mask.any():
            moving.append(np.linalg.norm(metrics.ab_planes(frames[t]) - metrics.ab_planes(truth[t]), axis=0)[mask].mean())
    L = [cv2.cvtColor(g, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) / 2.55 for g in truth]
    ab = [metrics.ab_planes(f) for f in frames]
    drift = metrics.static_drift(L, ab, GAPS, cuts)
    return {
        **{f"drift_{g}": drift[g] for g in GAPS},
        "spread": metrics.chroma_spread(ab, cuts),
        "moving": float(np.mean(moving)),
        "consistency": metrics.color_consistency([metrics.ab_planes(f[::2, ::2]) for f in frames]),
        "warp": float(np.mean(warp)),
        "psnr": float(np.mean([p for p in psnr if np.isfinite(p)])),
    }


def run(clip: Path, size: int | None = None, key_interval: int = VideoOptions.key_interval,
        variants: dict[str, SmoothConfig] | None = None, model: Path | None = None) -> dict:
    """Measures of truth, raw and smoothed; flicker removed; cuts and any crossed."""
    truth = decode_rgb(clip)
    with av.open(str(clip)) as c:
        rate = int(round(c.streams.video[0].average_rate or 25))
    cuts = find_cuts(truth)
    colorizer = Colorizer.load(model, device="cpu", size=size, films=True)
    with tempfile.TemporaryDirectory() as tmp:
        grey = Path(tmp) / "grey.mkv"
        write_grey(truth, grey, rate)
        out = {}
        for name, smooth in (("raw", False), ("smoothed", True)):
            dst = Path(tmp) / f"{name}.mkv"
            colorize_video(colorizer, grey, dst, VideoOptions(codec="ffv1", smooth=smooth, key_interval=key_interval))
            out[name] = decode_rgb(dst)
        for i, (name, smoothing) in enumerate((variants or {}).items()):  # the smoothed film, set otherwise
            dst = Path(tmp) / f"variant{i}.mkv"
            colorize_video(colorizer, grey, dst, VideoOptions(codec="ffv1", key_interval=key_interval,
                                                              smoothing=smoothing))
            out[name] = decode_rgb(dst)
    m = {"truth": measures(truth, truth, cuts)}
    m.update({k: measures(v, truth, cuts) for k, v in out.items()})
    removed = {}
    for key in ("consistency", "warp"):
        raw, smooth, base = m["raw"][key], m["smoothed"][key], m["truth"][key]
        removed[key] = 1 - (smooth - base) / (raw - base) if raw > base else float("nan")
    crossed = [t for t in cuts if np.abs(out["smoothed"][t].astype(int) - out["raw"][t].astype(int)).max() > 1]
    return {"frames": len(truth), "cuts": cuts, "crossed": crossed, "measures": m, "removed": removed,
            "psnr_change": m["smoothed"]["psnr"] - m["raw"]["psnr"], "size": colorizer.film_size}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bikes.mp4")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--model", type=Path, help="an .onnx model file (default: the bundled one)")
    ap.add_argument("--key-interval", type=int, default=VideoOptions.key_interval)
    ap.add_argument("--chroma-memory", type=float, nargs="*", default=[],
                    help="Also the smoothed film with these SmoothConfig.chroma_memory values (0.8, 0.95...).")
    ap.add_argument("--strength", type=float, nargs="*", default=[],
                    help="Also the smoothed film with these SmoothConfig.strength values (the history's weight "
                         "at key frames; with each --chroma-memory too).")
    args = ap.parse_args()
    variants = {}
    for strength in [None, *args.strength]:
        for memory in [None, *args.chroma_memory]:
            if strength is None and memory is None:
                continue
            cfg = replace(SmoothConfig(), **({} if strength is None else {"strength": strength}),
                          **({} if memory is None else {"chroma_memory": memory}))
            variants[", ".join(n for n in (strength is not None and f"strength {strength}",
                                          memory is not None and f"chroma memory {memory}") if n)] = cfg
    r = run(args.clip, args.size, args.key_interval, variants, args.model)
    m = r["measures"]
    print(f"{args.clip.name}: {r['frames']} frames, cuts at {r['cuts']}, --size {r['size']}, "
          f"--key-interval {args.key_interval}\n")
    print("| version | colour consistency (JS) | warp error | PSNR vs truth (dB) | a/b error on moving pixels "
          "| static pixels' change over 1 / 5 / 25 frames | spread of mean chroma in a shot |")
    print("|---|---|---|---|---|---|---|")
    for k, v in m.items():
        psnr, moving = ("-", "-") if k == "truth" else (f"{v['psnr']:.3f}", f"{v['moving']:.2f}")
        drift = " / ".join(f"{v[f'drift_{g}']:.3f}" for g in GAPS)
        print(f"| {k} | {v['consistency']:.4f} | {v['warp']:.4f} | {psnr} | {moving} | {drift} | {v['spread']:.2f} |")
    for key, label in (("consistency", "colour consistency"), ("warp", "warp error")):
        print(f"flicker removed ({label}): {r['removed'][key]:.0%}")
    print(f"PSNR change from smoothing: {r['psnr_change']:+.2f} dB")
    print(f"cuts where smoothed != raw on the first frame after the cut: {r['crossed'] or 'none'}")


if __name__ == "__main__":
    main()
