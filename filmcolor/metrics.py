"""Quality measures: PSNR, colourfulness, temporal consistency.

PSNR alone rewards washed-out colour (a grey image scores well); always report
colourfulness of the prediction beside that of the truth.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import color
from .temporal import source_coords


def psnr(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """PSNR in dB per image.

    pred, truth: (B, 3, H, W) float sRGB in [0, 1]. Returns (B,) float64.
    Peak is 1; identical images give +inf.
    """
    color.check_image(pred, 3, "pred")
    color.check_image(truth, 3, "truth")
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth differ in shape: {pred.shape} vs {truth.shape}")
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    mse = (diff**2).reshape(len(diff), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(1.0 / mse)


def colorfulness(rgb: np.ndarray) -> np.ndarray:
    """Colourfulness of Hasler & Suesstrunk (2003) per image.

    rgb: (B, 3, H, W) float sRGB in [0, 1] (scaled to 0..255 inside, as the
    paper's figures are). Returns (B,) float64: 0 for grey, about 40 for
    ordinary photos, above 100 for extremely colourful ones.
    """
    color.check_image(rgb, 3, "rgb")
    # float32 as the figures were first made (torch), and a film's frames allocate half as much
    x = rgb.astype(np.float32).reshape(len(rgb), 3, -1)
    rg = (x[:, 0] - x[:, 1]) * 255
    yb = ((x[:, 0] + x[:, 1]) * 0.5 - x[:, 2]) * 255
    sigma = np.sqrt(rg.var(1, dtype=np.float64) + yb.var(1, dtype=np.float64))
    mu = np.sqrt(rg.mean(1, dtype=np.float64) ** 2 + yb.mean(1, dtype=np.float64) ** 2)
    return sigma + 0.3 * mu


def ab_planes(rgb: np.ndarray) -> np.ndarray:
    """a/b (2, H, W) float32 in LAB units of an (H, W, 3) uint8 RGB picture."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    return lab[..., 1:].transpose(2, 0, 1)


def ab_histogram(ab: np.ndarray, bins: int = 32, limit: float = 110.0) -> np.ndarray:
    """Normalized 2-D histogram of a/b values.

    ab: (2, H, W) or (H, W, 2)-agnostic float array flattened as pairs along the
    first axis of length 2. Returns (bins, bins) float64 summing to 1.
    """
    a, b = np.asarray(ab, dtype=np.float32).reshape(2, -1)
    h, _, _ = np.histogram2d(a, b, bins=bins, range=[[-limit, limit], [-limit, limit]])
    return h / max(h.sum(), 1.0)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms of equal shape."""
    p = p.ravel() / max(p.sum(), 1e-12)
    q = q.ravel() / max(q.sum(), 1e-12)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float((x[nz] * np.log2(x[nz] / m[nz])).sum())

    return (kl(p) + kl(q)) / 2


def color_consistency(ab_frames: list[np.ndarray], gaps: tuple[int, ...] = (1, 2, 4)) -> float:
    """Colour distribution consistency of a clip: mean JS divergence between the
    a/b histograms of frames t and t+g, averaged over the gaps. Lower is steadier.

    ab_frames: a list of (2, H, W) float a/b arrays.
    """
    hists = [ab_histogram(ab) for ab in ab_frames]
    per_gap = [
        np.mean([js_divergence(hists[t], hists[t + g]) for t in range(len(hists) - g)])
        for g in gaps
        if len(hists) > g
    ]
    return float(np.mean(per_gap)) if per_gap else 0.0


def warp_error(prev_grey: np.ndarray, grey: np.ndarray, prev_rgb: np.ndarray, rgb: np.ndarray) -> float:
    """Mean absolute difference between ``rgb`` and ``prev_rgb`` warped onto it by
    optical flow (DIS, computed on the grey frames), over pixels where the flow
    is consistent. A measure of flicker; lower is steadier.

    prev_grey, grey: (H, W) uint8. prev_rgb, rgb: (H, W, 3) float in [0, 1].
    Returns the mean error on the 0..1 scale.
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fwd = dis.calc(grey, prev_grey, None)  # for each pixel of `grey`, where it was before
    bwd = dis.calc(prev_grey, grey, None)
    h, w = grey.shape
    mx, my = source_coords(fwd)
    warped = cv2.remap(prev_rgb.astype(np.float32), mx, my, cv2.INTER_LINEAR)
    back = cv2.remap(bwd, mx, my, cv2.INTER_LINEAR)
    # forward-backward check: occluded or badly tracked pixels do not count
    ok = np.linalg.norm(fwd + back, axis=-1) < 1.0
    ok &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    if not ok.any():
        return 0.0
    return float(np.abs(warped - rgb.astype(np.float32))[ok].mean())


def find_cuts(greys: list[np.ndarray], threshold: float = 35.0) -> list[int]:
    """Frames t whose grey (H, W) uint8 differs from frame t-1's by more than
    ``threshold`` levels on average: scene cuts (on bikes.mp4 cuts give 52..84,
    motion at most 22). Independent of the smoother's own detector."""
    return [t for t in range(1, len(greys))
            if np.abs(greys[t].astype(np.int16) - greys[t - 1]).mean() > threshold]


def static_drift(L: list[np.ndarray], ab: list[np.ndarray], gaps: tuple[int, ...] = (1, 5, 25),
                 cuts: list[int] = (), still: float = 1.0) -> dict[int, float]:
    """How much the colour of things that stay still changes, over each gap.

    L: per frame (H, W) float lightness in [0, 100] of the TRUE film (what
    decides whether a pixel stayed the same); ab: per frame (2, H, W) float
    a/b of the film measured. For each gap g: the mean |da| + |db| between
    frames t and t + g over the pixels whose lightness moved less than
    ``still`` L units between them, on pairs within one shot (``cuts``: the
    first frames of shots). Gap 1 is frame-to-frame flicker; 25 (a second)
    sees colour that drifts slowly between key frames. NaN for a gap no pair
    spans.
    """
    starts = sorted({0, *cuts})
    shot = np.searchsorted(starts, np.arange(len(L)), side="right")  # shot number of each frame
    out = {}
    for g in gaps:
        total, count = 0.0, 0
        for t in range(len(L) - g):
            if shot[t] != shot[t + g]:
                continue
            static = np.abs(L[t + g] - L[t]) < still
            n = int(static.sum())
            if n:
                total += float(np.abs(ab[t + g] - ab[t]).sum(axis=0)[static].sum())
                count += n
        out[g] = total / count if count else float("nan")
    return out


def chroma_spread(ab: list[np.ndarray], cuts: list[int] = ()) -> float:
    """Spread (standard deviation) of the frame's mean chroma C*ab within a
    shot, averaged over the shots of at least 2 frames by their length: colour
    that "breathes" while nothing in the scene changes raises it. ab: per frame
    (2, H, W) float a/b; cuts: the first frames of shots."""
    chroma = np.array([float(np.hypot(a[0], a[1]).mean()) for a in ab])
    bounds = sorted({0, *cuts, len(ab)})
    shots = [chroma[s:e] for s, e in zip(bounds[:-1], bounds[1:], strict=True) if e - s >= 2]
    if not shots:
        return float("nan")
    return float(sum(s.std() * len(s) for s in shots) / sum(len(s) for s in shots))
