"""Temporal smoothing of a/b across frames, so colour does not flicker.

Each frame's predicted a/b is blended with the previous *smoothed* a/b,
warped onto the current frame by optical flow (OpenCV's DIS, on the small
lightness planes): an exponential average along motion trajectories. Where
the warped previous frame does not match the current lightness (occlusion,
a moving object the flow missed) the blend weight falls to zero, so colour
is not smeared onto moving objects. At a scene cut the history is dropped,
so no colour crosses a cut. A cut is a jump in the luma histogram, or a
previous frame that even motion-compensated does not match the current one
(on bikes.mp4: cuts leave 15..31 L units of mean mismatch, motion at most 4.4).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class SmoothConfig:
    # weight of the warped history where it matches perfectly (per pixel: where the
    # flow fails, the network's colour comes through at once). 0.85, was 0.7: on the
    # three real clips the colour drifts over 25 frames 1.2-1.3x the true film's
    # instead of 1.35-1.45x at equal or better PSNR; 0.95 cost the animation 0.015 dB
    strength: float = 0.85
    match_sigma: float = 4.0  # L units: mismatch at which the weight falls to 1/e
    cut_threshold: float = 0.35  # Bhattacharyya distance of luma histograms that marks a cut
    cut_mismatch: float = 10.0  # mean |L - warped previous L| (L units) that marks a cut
    # 0: off. Else each key frame's colour is scaled so its mean chroma follows the shot's,
    # which moves toward each new key frame's by 1 - chroma_memory. Off: it holds back the
    # colour of a thing a pan brings in for over a second (tests/test_frames.py)
    chroma_memory: float = 0.0


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def source_coords(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps for ``cv2.remap`` from a flow field (H, W, 2) float32 that says, for
    each pixel, where it came from: (x + dx, y + dy), each (H, W) float32.
    The pixel grid is built once per frame size, not once per frame."""
    gx, gy = _grid(*flow.shape[:2])
    return gx + flow[..., 0], gy + flow[..., 1]


def histogram(L8: np.ndarray) -> np.ndarray:
    """64-bin normalized histogram of an (H, W) uint8 plane, float32."""
    h = cv2.calcHist([L8], [0], None, [64], [0, 256])
    return cv2.normalize(h, h, 1.0, 0.0, cv2.NORM_L1)


def is_cut(prev_hist: np.ndarray, hist: np.ndarray, threshold: float) -> bool:
    return cv2.compareHist(prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA) > threshold


@dataclass
class Motion:
    """What the smoother learned about one frame from its lightness alone."""

    fresh: bool  # first frame of a shot (or of the film): there is no history to use
    maps: tuple[np.ndarray, np.ndarray] | None = None  # cv2.remap coordinates into the previous frame
    match: np.ndarray | None = None  # (H, W) float32 in [0, 1]: how well the warped previous L fits

    @property
    def tracked(self) -> float:
        """Mean match over the frame, 0..1: how much of it the flow explains."""
        return 0.0 if self.match is None else float(self.match.mean())


class Smoother:
    """Stateful: feed frames in order with :meth:`step`; :meth:`reset` between clips.

    Works at the network's size: L (H, W) float32 in [0, 100], a/b (2, H, W) float32.
    :meth:`step` is :meth:`observe` then :meth:`blend`; the film pipeline calls
    the two apart so it can look at a batch's motion before it runs the network.
    Every observed frame must then be blended, in the same order.
    """

    def __init__(self, cfg: SmoothConfig | None = None):
        self.cfg = cfg or SmoothConfig()
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.cuts = 0
        self.reset()

    def reset(self) -> None:
        self._prev_L8: np.ndarray | None = None
        self._prev_L: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._prev_ab: np.ndarray | None = None

    def step(self, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """The smoothed a/b (2, H, W) float32 of this frame."""
        if L.ndim != 2 or ab.shape != (2, *L.shape):
            raise ValueError(f"expected L (H, W) and ab (2, H, W). Got {L.shape} and {ab.shape}")
        return self.blend(self.observe(L), ab)

    def observe(self, L: np.ndarray) -> Motion:
        """Motion of this frame (L (H, W) float32 in [0, 100]) against the previous
        one: optical flow, how well it matches, and whether a shot starts here."""
        if L.ndim != 2:
            raise ValueError(f"expected L (H, W). Got {L.shape}")
        L8 = np.clip(L * 2.55 + 0.5, 0, 255).astype(np.uint8)
        hist = histogram(L8)
        motion = Motion(fresh=True)
        if self._prev_L is not None and self._prev_L.shape == L.shape:
            if is_cut(self._prev_hist, hist, self.cfg.cut_threshold):
                self.cuts += 1
            else:
                motion = self._track(L8, L)
        self._prev_L8, self._prev_L, self._prev_hist = L8, L, hist
        return motion

    def _track(self, L8: np.ndarray, L: np.ndarray) -> Motion:
        """Flow to the previous frame and the match map; fresh when nothing lines up: a cut."""
        flow = self._flow.calc(L8, self._prev_L8, None)  # where each pixel of this frame was before
        h, w = L.shape
        mx, my = source_coords(flow)
        warped = cv2.remap(self._prev_L, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mismatch = np.abs(warped - L)
        if mismatch.mean() > self.cfg.cut_mismatch:
            self.cuts += 1
            return Motion(fresh=True)
        match = np.exp(-((mismatch / self.cfg.match_sigma) ** 2))
        # pixels whose source lies outside the previous frame have no history
        match[(mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)] = 0
        return Motion(fresh=False, maps=(mx, my), match=match)

    def blend(self, motion: Motion, ab: np.ndarray, strength: float | None = None) -> np.ndarray:
        """a/b (2, H, W) float32 of the frame ``motion`` came from, blended with the
        previous frame's smoothed a/b carried along the flow: the history weighs
        ``strength`` (default ``cfg.strength``) times the match. Returns the
        smoothed a/b (2, H, W) float32, which becomes the history."""
        if motion.fresh or self._prev_ab is None or self._prev_ab.shape != ab.shape:
            out = ab.astype(np.float32, copy=True)
        else:
            weight = (self.cfg.strength if strength is None else strength) * motion.match
            mx, my = motion.maps
            # a plane at a time: OpenCV's two-channel float remap is not exact (off by
            # up to 0.8 a/b units, 0.06 on average, on bigbuckbunny.mp4's flow, as if its
            # bilinear weights were rounded to 1/32); one channel is exact to 1e-5
            hist_ab = np.stack([cv2.remap(p, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                                for p in self._prev_ab])
            out = (ab * (1 - weight) + hist_ab * weight).astype(np.float32, copy=False)
        self._prev_ab = out
        return out
