"""How well a model puts colour back: colour photos and films are made grey
(lightness only), colorized, and compared with the originals.

Per picture or frame: PSNR on RGB, SSIM and mean CIEDE2000 (scikit-image),
colourfulness of the result and of the original, and the same for the grey
baseline (a = b = 0). Films add temporal measures: colour distribution
consistency, warp error, and beside the true film's own: the change of static
pixels' colour over 1, 5 and 25 frames (``static_1`` ...: jitter and slow
drift) and the spread of the frame's mean chroma within a shot
(``chroma_spread``); see ``metrics``.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from . import metrics
from .colorizer import Colorizer
from .errors import InputError
from .images import FILM_SUFFIXES, FORMATS, grey_rgb, read_picture, write_picture
from .images import Picture as _Picture
from .video import VideoOptions, colorize_video

KEYS = ("psnr", "ssim", "ciede2000", "colorfulness", "colorfulness_truth", "neutral_share", "neutral_chroma")
STATIC_GAPS = (1, 5, 25)  # frames over which the colour of static pixels is compared (films)
NEUTRAL_CHROMA = 5.0  # a truth pixel with C*ab below this is neutral (grey, white, black, steel)
_SPACES = {"bt709": "itu709", "bt601": "itu601", "bt2020": "bt2020"}


def score(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Measures of one colorized picture against the original.

    pred, truth: (H, W, 3) uint8 RGB of equal shape. Returns a dict with KEYS:
    PSNR in dB (peak 255), SSIM in [-1, 1], mean CIEDE2000, colourfulness of
    ``pred`` and of ``truth``; the share of the truth's pixels that are neutral
    (chroma C*ab < NEUTRAL_CHROMA) and the mean chroma ``pred`` gives them
    (NaN when there are none): a colour cast on grey things raises it.
    """
    from skimage.color import deltaE_ciede2000, rgb2lab
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if pred.shape != truth.shape or pred.dtype != np.uint8 or truth.dtype != np.uint8:
        raise ValueError(f"expected two (H, W, 3) uint8 pictures. Got {pred.shape} {pred.dtype}, {truth.shape} {truth.dtype}")
    small = min(pred.shape[:2])
    win = min(7, small if small % 2 else small - 1)
    both = np.stack([pred, truth]).transpose(0, 3, 1, 2).astype(np.float32) / 255
    cf = metrics.colorfulness(both)
    with np.errstate(divide="ignore"):  # identical pictures: PSNR is +inf, not a warning
        psnr = float(peak_signal_noise_ratio(truth, pred, data_range=255))
    lab_truth, lab_pred = rgb2lab(truth), rgb2lab(pred)
    neutral = np.hypot(lab_truth[..., 1], lab_truth[..., 2]) < NEUTRAL_CHROMA
    pred_chroma = np.hypot(lab_pred[..., 1], lab_pred[..., 2])
    return {
        "psnr": psnr,
        "ssim": float(structural_similarity(truth, pred, channel_axis=2, data_range=255, win_size=max(win, 3))),
        "ciede2000": float(deltaE_ciede2000(lab_truth, lab_pred).mean()),
        "colorfulness": float(cf[0]),
        "colorfulness_truth": float(cf[1]),
        "neutral_share": float(neutral.mean()),
        "neutral_chroma": float(pred_chroma[neutral].mean()) if neutral.any() else float("nan"),
    }


def _with_grey(pred: np.ndarray, truth: np.ndarray) -> dict:
    out = score(pred, truth)
    skip = ("colorfulness_truth", "neutral_share")
    out.update({f"grey_{k}": v for k, v in score(grey_rgb(truth), truth).items() if k not in skip})
    return out


@dataclass
class EvalOptions:
    every: int = 1  # films: score every n-th frame (temporal measures use all)
    save: Path | None = None  # folder for the colorized outputs
    video: VideoOptions | None = None
    progress: bool = False  # films: a progress bar (frames, fps, ETA) for colouring and for scoring


def evaluate_photo(colorizer: Colorizer, path: Path, opts: EvalOptions) -> dict:
    pic = read_picture(path)
    px = pic.pixels
    if px.ndim == 2 or px.shape[2] == 2:
        raise InputError("a grey picture has no colour to compare with")
    truth = px[..., :3]
    if truth.dtype == np.uint16:
        truth = (truth // 257).astype(np.uint8)
    pred = colorizer.colorize(truth)
    if opts.save:
        write_picture(opts.save / (path.stem + ".png"), _Picture(pred, "PNG"))
    return {"path": str(path), "kind": "photo", **_with_grey(pred, truth)}


def _bar(what: str, shown: bool, total: int | None = None) -> tqdm:
    return tqdm(total=total, desc=what, unit="frame", disable=not shown, file=sys.stderr, leave=False)


def _rgb_frames(path: Path, matrix: str | None = None):
    """Decode RGB frames, reading YUV with ``matrix`` (or the file's tag)."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if matrix:
                yield f.reformat(format="rgb24", src_colorspace=_SPACES[matrix]).to_ndarray()
            else:
                yield f.to_ndarray(format="rgb24")


def evaluate_video(colorizer: Colorizer, path: Path, opts: EvalOptions) -> dict:
    video_opts = opts.video or VideoOptions()
    video_opts = VideoOptions(**{**video_opts.__dict__, "codec": "ffv1"})  # lossless: no coding noise
    with tempfile.TemporaryDirectory() as tmp:
        out = opts.save / (path.stem + ".mkv") if opts.save else Path(tmp) / "out.mkv"
        bar = _bar(f"{path.name}: colour", opts.progress)
        report = colorize_video(colorizer, path, out, video_opts, bar.update, lambda n: bar.reset(n or None))
        bar.close()
        with av.open(str(out)) as c:
            tag = c.streams.video[0].codec_context.colorspace
        matrix = {1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020"}.get(tag, "bt601")
        rows, abs_pred, prev, warps = [], [], None, []
        abs_truth, L_truth, greys = [], [], []  # at half size, for the drift of static pixels
        pairs = zip(_rgb_frames(path, matrix), _rgb_frames(out, matrix), strict=False)
        bar = _bar(f"{path.name}: score", opts.progress, report.frames)
        for i, (truth, pred) in enumerate(pairs):
            bar.update()
            if i % opts.every == 0:
                rows.append(_with_grey(pred, truth))
            abs_pred.append(metrics.ab_planes(pred[::2, ::2]))
            lab = cv2.cvtColor(truth[::2, ::2].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
            L_truth.append(lab[..., 0])
            abs_truth.append(lab[..., 1:].transpose(2, 0, 1))
            grey = cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY)
            greys.append(grey[::2, ::2])
            if prev is not None:
                warps.append(metrics.warp_error(prev[0], grey, prev[1] / 255.0, pred / 255.0))
            prev = (grey, pred)
        bar.close()
    if not rows:
        raise InputError("no frames to compare")
    with warnings.catch_warnings():  # frames without neutral pixels have NaN there
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    cuts = metrics.find_cuts(greys)
    static = {}
    for who, ab in (("", abs_pred), ("truth_", abs_truth)):
        for gap, change in metrics.static_drift(L_truth, ab, STATIC_GAPS, cuts).items():
            static[f"{who}static_{gap}"] = change
        static[f"{who}chroma_spread"] = metrics.chroma_spread(ab, cuts)
    return {
        "path": str(path), "kind": "video", "frames": len(abs_pred), **mean,
        "consistency": metrics.color_consistency(abs_pred),
        "warp_error": float(np.mean(warps)) if warps else 0.0,
        "cuts": len(cuts), **static,
    }


def find_inputs(paths: list[str | os.PathLike], recursive: bool = False) -> list[Path]:
    """Files as given; folders give their photos and films (sub-folders too
    when ``recursive``)."""
    found: list[Path] = []
    suffixes = set(FORMATS) | FILM_SUFFIXES
    for p in map(Path, paths):
        if p.is_dir():
            listing = p.rglob("*") if recursive else p.iterdir()
            found += sorted(q for q in listing if q.suffix.lower() in suffixes and q.is_file())
        else:
            found.append(p)
    return found


def _keep_freed_memory() -> None:
    """Let glibc keep the large blocks scikit-image's colour conversions free.

    Each full-frame rgb2lab / CIEDE2000 allocates and frees tens of MB; with
    glibc's default, adaptive thresholds they go back to the system and fault
    in again on every frame: on bikes.mp4 that was 40% of the time, in the
    kernel. (The process that imported torch had happened to raise the
    threshold.) Elsewhere than glibc, nothing to do.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: blocks below 64 MB come from the heap
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD: and the heap keeps up to 256 MB free
    except (OSError, AttributeError):
        pass


def evaluate(colorizer: Colorizer, paths: list[Path], opts: EvalOptions,
             on_error: Callable[[Path, str], None] | None = None, films: Colorizer | None = None) -> list[dict]:
    """One result per input that could be evaluated (see ``with_mean``); films
    through ``films`` where given (what `filmcolor video` would load), else ``colorizer``."""
    _keep_freed_memory()
    results = []
    for path in paths:
        try:
            if not path.exists():
                raise InputError("no such file")
            if path.suffix.lower() in FILM_SUFFIXES:
                results.append(evaluate_video(films or colorizer, path, opts))
            else:
                results.append(evaluate_photo(colorizer, path, opts))
        except InputError as e:
            if on_error is None:
                raise
            on_error(path, str(e))
    return results


def beats_grey(results: list[dict]) -> dict:
    """How many results the colour beats the grey baseline on: ``n`` (the
    results counted, the 'mean' entry left out), ``psnr`` (higher PSNR) and
    ``ciede2000`` (lower colour difference)."""
    rows = [r for r in results if r.get("kind") != "mean"]
    return {
        "n": len(rows),
        "psnr": sum(r["psnr"] > r["grey_psnr"] for r in rows),
        "ciede2000": sum(r["ciede2000"] < r["grey_ciede2000"] for r in rows),
    }


def with_mean(results: list[dict]) -> list[dict]:
    """``results`` followed by a 'mean' entry over the measures all of them have."""
    if not results:
        return results
    keys = [k for k in results[0] if isinstance(results[0][k], float) and all(k in r for r in results)]
    with warnings.catch_warnings():  # a measure no input has (NaN everywhere) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = {k: float(np.nanmean([r[k] for r in results])) for k in keys}
    return results + [{"path": "mean", "kind": "mean", **mean}]
