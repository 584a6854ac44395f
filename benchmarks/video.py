"""Film speed against a plain PyAV transcode, and peak memory for a 1080p film.

    python benchmarks/video.py [--clip samples/video/bigbuckbunny.mp4] [--repeat 2]
                               [--preset medium] [--size S] [--memory]
                               [--reference PHOTO] [--replay] [--model M.onnx]

Both runs decode the same file with PyAV and encode with the same libx264
settings (crf 18, the preset given, same pixel format), copying the audio; the
transcode does nothing else. Best of --repeat runs each, in one process, so
the ratio compares like with like. --memory makes 1080p films of two lengths
and reports the peak resident memory of `filmcolor video` on each: flat
memory means the two figures agree. --replay also times the film with the
network's outputs recorded on a first run and replayed (the same colour, so
the same frames for the encoder, without inference), the three interleaved,
medians: what of the gap to the transcode is the network's inference and
what is the rest of the film path.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
from common import REPO, run_measured
from transcode import transcode

from filmcolor import Colorizer
from filmcolor.images import read_reference
from filmcolor.video import VideoOptions, colorize_video


def speed(clip: Path, repeat: int, preset: str, size: int | None, batch: int,
          key_interval: int = VideoOptions.key_interval, reference: Path | None = None,
          model: Path | None = None) -> list[float]:
    """fps of the transcode, of filmcolor, and (given ``reference``) of filmcolor steered by it."""
    colorizer = Colorizer.load(model, device="cpu", size=size, films=True)
    opts = [VideoOptions(preset=preset, batch_size=batch, key_interval=key_interval)]
    if reference is not None:
        opts.append(replace(opts[0], references=((0.0, colorizer.reference(read_reference(reference),
                                                                                    size=colorizer.film_size)),)))
    best = [float("inf")] * (1 + len(opts))
    frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            t = time.perf_counter()
            frames = transcode(clip, Path(tmp) / "t.mp4", preset, 18)
            best[0] = min(best[0], time.perf_counter() - t)
            for i, o in enumerate(opts, 1):
                t = time.perf_counter()
                colorize_video(colorizer, clip, Path(tmp) / "c.mp4", o)
                best[i] = min(best[i], time.perf_counter() - t)
    return [frames / b for b in best]


def replayed(clip: Path, repeat: int, preset: str, size: int | None, batch: int, key_interval: int,
             model: Path | None = None) -> tuple[float, float, float]:
    """fps of the transcode, of filmcolor, and of filmcolor with the network's outputs
    recorded on a first run and replayed (the same colour and frames to encode, no
    inference): medians of ``repeat`` interleaved runs. What the network's inference
    costs a film, and what the rest of the film path does."""
    colorizer = Colorizer.load(model, device="cpu", size=size, films=True)
    opts = VideoOptions(preset=preset, batch_size=batch, key_interval=key_interval)
    run, calls = colorizer.net.run, []
    times: dict[str, list[float]] = {"transcode": [], "filmcolor": [], "replayed": []}
    frames = 0

    def record(x, raw=False):
        calls.append(run(x, raw))
        return calls[-1]

    def replay():
        outputs = iter(calls)
        return lambda x, raw=False: next(outputs)

    with tempfile.TemporaryDirectory() as tmp:
        colorizer.net.run = record
        colorize_video(colorizer, clip, Path(tmp) / "c.mp4", opts)
        for _ in range(repeat):
            t = time.perf_counter()
            frames = transcode(clip, Path(tmp) / "t.mp4", preset, 18)
            times["transcode"].append(time.perf_counter() - t)
            for name, fn in (("filmcolor", run), ("replayed", replay())):
                colorizer.net.run = fn
                t = time.perf_counter()
                colorize_video(colorizer, clip, Path(tmp) / "c.mp4", opts)
                times[name].append(time.perf_counter() - t)
    return tuple(frames / statistics.median(times[k]) for k in ("transcode", "filmcolor", "replayed"))


def make_film(path: Path, frames: int, w: int = 1920, h: int = 1080) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h // 8, w // 8), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "23"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            y = np.roll(base, 4 * i, axis=1)
            frame = av.VideoFrame(w, h, "yuv420p")
            frame.planes[0].update(np.ascontiguousarray(y))
            frame.planes[1].update(np.full((h // 2, w // 2), 128, np.uint8))
            frame.planes[2].update(np.full((h // 2, w // 2), 128, np.uint8))
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def grainy_copy(src: Path, dst: Path, sigma: float = 7.0) -> Path:
    """A black-and-white copy of src with film grain (gaussian, sigma in 8-bit
    levels), kept by a high-quality encode: what archive film looks like to x264."""
    rng = np.random.default_rng(0)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        s = out.add_stream("libx264", rate=vin.average_rate or 25, options={"crf": "14", "preset": "veryfast"})
        s.width, s.height, s.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        for i, f in enumerate(inp.decode(video=0)):
            y = f.to_ndarray(format="gray").astype(np.float32)
            y = np.clip(y + rng.normal(0, sigma, y.shape), 0, 255).astype(np.uint8)
            g = av.VideoFrame.from_ndarray(y, format="gray").reformat(format="yuv420p")
            g.pts = i
            for p in s.encode(g):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return dst


def memory(lengths=(250, 1000)) -> list[tuple[int, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in lengths:
            film = Path(tmp) / f"film{n}.mp4"
            make_film(film, n)
            exe = shutil.which("filmcolor") or "filmcolor"
            s, mb, rc = run_measured([exe, "video", str(film), str(Path(tmp) / "out.mp4"), "-q", "--preset", "ultrafast"])
            assert rc == 0
            rows.append((n, mb, n / s))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "video" / "bigbuckbunny.mp4")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--size", type=int, default=None, help="network's short side (default: the model's film size)")
    ap.add_argument("--model", type=Path, help="an .onnx model file (default: the bundled one)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--key-interval", type=int, default=VideoOptions.key_interval)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--grain", action="store_true", help="also a grainy black-and-white copy of the clip")
    ap.add_argument("--reference", type=Path, help="also time the film steered by this colour photo")
    ap.add_argument("--replay", action="store_true",
                    help="also the film with the network's outputs replayed (what its inference costs)")
    args = ap.parse_args()
    clips = [("", args.clip)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.grain:
            clips.append((" (grainy b/w copy)", grainy_copy(args.clip, Path(tmp) / "grainy.mp4")))
        for label, clip in clips:
            t_fps, c_fps, *r_fps = speed(clip, args.repeat, args.preset, args.size, args.batch, args.key_interval,
                                         args.reference, args.model)
            print(f"{args.clip.name}{label}, libx264 crf 18 {args.preset}: transcode {t_fps:.1f} fps, "
                  f"filmcolor video {c_fps:.1f} fps (--key-interval {args.key_interval}), ratio {c_fps / t_fps:.2f}")
            for fps in r_fps:
                print(f"  with --reference {args.reference.name}: {fps:.1f} fps")
            if args.replay:
                t, c, r = replayed(clip, max(args.repeat, 3), args.preset, args.size, args.batch, args.key_interval,
                                   args.model)
                print(f"  medians of {max(args.repeat, 3)} interleaved runs: transcode {t:.1f} fps, filmcolor {c:.1f} "
                      f"(ratio {c / t:.2f}), the network's outputs replayed {r:.1f} (ratio {r / t:.2f}): its "
                      f"inference costs {1000 / c - 1000 / r:.1f} ms a film frame, the rest {1000 / r - 1000 / t:.1f}")
    if args.memory:
        for n, mb, fps in memory():
            print(f"1080p film, {n} frames (preset ultrafast): peak {mb:.0f} MB, {fps:.1f} fps")


if __name__ == "__main__":
    main()
