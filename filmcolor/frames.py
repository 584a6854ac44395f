"""Coloured output frames from decoded ones: the colorization-specific core of
the film pipeline.

Each frame's luma plane is shrunk to the network's size and turned into L by
a lookup table; the network gives a/b for the batch's key frames (all of
them without smoothing); a/b are smoothed over time and carried along the
motion to the other frames, clamped to the gamut and turned into the chroma
planes of the output format at the network's size, then upsampled. The output frame gets the
SOURCE luma plane untouched (shifted only if the bit depth changes).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import av
import cv2
import numpy as np

from . import color
from .colorizer import Colorizer, shrink, small_shape
from .encoding import PLANAR, RANGE_JPEG, RANGE_MPEG, planar_equivalent, plane_view, with_alpha
from .errors import FilmcolorError
from .network import OutOfMemory
from .reference import Reference
from .temporal import Motion, Smoother


@dataclass(frozen=True)
class FrameLayout:
    """What the output frames look like."""

    width: int
    height: int
    out_format: str  # a key of encoding.PLANAR
    matrix: str  # for color.rgb_to_chroma
    out_space: int  # AVColorSpace tag
    full_range: bool
    alpha: bool = False  # frames carry the source's alpha plane (out_format with alpha: encoding.with_alpha)

    @property
    def out_bits(self) -> int:
        return PLANAR[self.out_format][0]


def luma_plane(frame: av.VideoFrame) -> tuple[np.ndarray, int]:
    """The frame's luma plane as an (H, W) uint8/uint16 view, and its bit depth.

    Formats that are not planar YUV/grey (nv12, rgb24, ...) are converted first.
    """
    name = frame.format.name
    if name not in PLANAR:
        frame = frame.reformat(format=planar_equivalent(name))
        name = frame.format.name
    bits = PLANAR[name][0]
    dtype = np.uint16 if bits > 8 else np.uint8
    return plane_view(frame.planes[0], dtype, frame.width, frame.height), bits


def _alpha_plane(frame: av.VideoFrame, out_bits: int) -> np.ndarray:
    """The frame's alpha (H, W) at ``out_bits``: its own plane where it is planar
    with alpha (yuva444p12le from ProRes 4444), else through a conversion (argb)."""
    name = frame.format.name
    if not (name.startswith("yuva") and len(frame.planes) == 4):
        frame = frame.reformat(format="yuva444p16le")
        name = frame.format.name
    bits = max(c.bits for c in frame.format.components if c.is_alpha)
    dtype = np.uint16 if bits > 8 else np.uint8
    return _requantize(plane_view(frame.planes[3], dtype, frame.width, frame.height), bits, out_bits)


def _requantize(y: np.ndarray, bits: int, out_bits: int) -> np.ndarray:
    """Luma codes from ``bits`` to ``out_bits`` (shift up, or round down)."""
    if bits == out_bits:
        return y
    dtype = np.uint16 if out_bits > 8 else np.uint8
    if bits < out_bits:
        return y.astype(dtype) << (out_bits - bits)
    half = 1 << (bits - out_bits - 1)
    return ((y.astype(np.uint32) + half) >> (bits - out_bits)).clip(0, (1 << out_bits) - 1).astype(dtype)


class FrameColorizer:
    """Turns batches of decoded frames into coloured frames of ``layout``.

    With a smoother, the network need not see every frame: within a shot, a
    frame whose motion the optical flow explains well (``carry_min_tracked``)
    and that is less than ``key_interval`` frames from the last frame the
    network saw takes its colour carried along the flow from the frames
    before; where the flow fails, from the network's colour of the nearest
    frames it saw on either side in the same shot. The first frame of every
    shot always goes through the network.

    When the device runs out of memory (network.OutOfMemory) the batch is
    halved and retried (``batch_size`` keeps the lowered value, ``notices``
    says so): no frame is ever written without its colour.
    """

    def __init__(self, colorizer: Colorizer, layout: FrameLayout, batch_size: int, notices: list[str],
                 key_interval: int = 1, carry_min_tracked: float = 0.5,
                 references: Sequence[tuple[float, Reference]] = (), first_frame: int = 0):
        if key_interval < 1:
            raise ValueError(f"key_interval must be at least 1. Got {key_interval}")
        self.colorizer = colorizer
        self.layout = layout
        self.batch_size = batch_size
        self.notices = notices
        self.key_interval = key_interval
        self.carry_min_tracked = carry_min_tracked
        self.carried = 0  # frames coloured without the network
        # frames are numbered from the film's start, also when the colorizer starts in the
        # middle (a segment): key frames then fall where they fall in one piece
        self._frames_seen = first_frame
        self._last_key: tuple[int, np.ndarray] | None = None  # (frame number, its network a/b)
        self._shot_chroma: float | None = None  # the shot's mean chroma, with SmoothConfig.chroma_memory
        # (from seconds, reference), by time: each applies from its time to the next one's
        self.references = sorted(references, key=lambda r: r[0])
        self._reference_times = [t for t, _ in self.references]
        self._reference_now = -1  # index of the reference of the last frame seen (-1: none)

    def colorize(self, frames: list[av.VideoFrame], smoother: Smoother | None) -> list[av.VideoFrame]:
        if not frames:
            return []
        lay = self.layout
        lumas = [luma_plane(f) for f in frames]
        hs, ws = small_shape(lay.height, lay.width, self.colorizer.film_size)
        small = np.stack([shrink(y, hs, ws) for y, _ in lumas])
        lut = color.l_from_luma_table(lumas[0][1], lay.full_range)
        L = lut[small][:, None]  # (N, 1, hs, ws) float32
        refs = [self._reference_at(f) for f in frames]
        if smoother is None:
            ab = self.predict(L, refs)
        else:
            ab = self._smoothed(L, smoother, refs)
        rgb = color.lab_to_rgb_clamped(L, ab)  # the one gamut clamp, after smoothing
        chroma = color.rgb_to_chroma(rgb, lay.matrix, lay.out_bits, lay.full_range)  # (N, 2, hs, ws)
        _, sx, sy, _ = PLANAR[lay.out_format]
        cw, ch = -(-lay.width // (1 << sx)), -(-lay.height // (1 << sy))
        dtype = np.uint16 if lay.out_bits > 8 else np.uint8
        # rounded at the small size, then upsampled by OpenCV's fixed-point
        # bilinear filter: a quarter of the float path's time, within 1 code
        chroma = np.clip(np.rint(chroma), 0, (1 << lay.out_bits) - 1).astype(dtype)
        out = []
        for i, frame in enumerate(frames):
            y, bits = lumas[i]
            new = av.VideoFrame(lay.width, lay.height, with_alpha(lay.out_format) if lay.alpha else lay.out_format)
            plane_view(new.planes[0], dtype, lay.width, lay.height)[:] = _requantize(y, bits, lay.out_bits)
            if lay.alpha:
                plane_view(new.planes[3], dtype, lay.width, lay.height)[:] = _alpha_plane(frame, lay.out_bits)
            for k in (0, 1):
                plane_view(new.planes[1 + k], dtype, cw, ch)[:] = cv2.resize(
                    chroma[i, k], (cw, ch), interpolation=cv2.INTER_LINEAR)
            new.pts, new.time_base, new.duration = frame.pts, frame.time_base, frame.duration
            new.colorspace = lay.out_space
            new.color_range = RANGE_JPEG if lay.full_range else RANGE_MPEG
            out.append(new)
        return out

    def _reference_at(self, frame: av.VideoFrame) -> int:
        """Index of the reference that applies at ``frame``'s time (-1: none)."""
        if not self.references or frame.pts is None or frame.time_base is None:
            return -1
        return bisect.bisect_right(self._reference_times, float(frame.pts * frame.time_base)) - 1

    def _smoothed(self, L: np.ndarray, smoother: Smoother, refs: list[int]) -> np.ndarray:
        """Smoothed a/b (N, 2, h, w) for L (N, 1, h, w) of consecutive frames,
        the network run on the key frames only (see the class)."""
        motions = []
        for plane, ref in zip(L[:, 0], refs, strict=True):
            m = smoother.observe(plane)
            if ref != self._reference_now:  # a new reference starts a shot: no colour crosses its time
                m = Motion(fresh=True)
                self._reference_now = ref
            motions.append(m)
        first = self._frames_seen  # frames are numbered from the start of the film
        last = self._last_key[0] if self._last_key else None
        keys = []
        for t, m in enumerate(motions, first):
            # on a grid of the film's frame numbers, not counted from the last key, so that a
            # segment rendered on its own picks the key frames one piece would
            if (m.fresh or last is None or t % self.key_interval == 0 or t - last >= self.key_interval
                    or m.tracked < self.carry_min_tracked):
                keys.append(t)
                last = t
        known = dict([self._last_key]) if self._last_key else {}  # frame number -> the network's a/b
        if keys:
            known.update(zip(keys, self.predict(L[[t - first for t in keys]], [refs[t - first] for t in keys]),
                             strict=True))
            memory = smoother.cfg.chroma_memory
            if memory > 0:
                for t in keys:
                    known[t] = self._anchored(known[t], motions[t - first].fresh, memory)
        out = []
        for t, m in enumerate(motions, first):
            if t in known:
                out.append(smoother.blend(m, known[t]))
                continue
            # the key before is in this shot (a shot starts with a key); the one after may not be
            before = max(k for k in known if k < t)
            after = min((k for k in known if k > t), default=None)
            guess = known[before]
            if after is not None and not motions[after - first].fresh:
                guess = guess + (known[after] - guess) * ((t - before) / (after - before))
            out.append(smoother.blend(m, guess, strength=1.0))
            self.carried += 1
        self._frames_seen += len(motions)
        if keys:
            self._last_key = (keys[-1], known[keys[-1]])
        return np.stack(out)

    def _anchored(self, ab: np.ndarray, fresh: bool, memory: float) -> np.ndarray:
        """A key frame's a/b (2, h, w) scaled so its mean chroma follows the shot's,
        which moves toward each key frame's by 1 - ``memory`` (a shot starts afresh)."""
        c = float(np.hypot(ab[0], ab[1]).mean())
        if fresh or self._shot_chroma is None:
            self._shot_chroma = c
            return ab
        self._shot_chroma = memory * self._shot_chroma + (1 - memory) * c
        return ab * np.float32(self._shot_chroma / max(c, 1e-3))

    def predict(self, L: np.ndarray, refs: Sequence[int] | None = None) -> np.ndarray:
        """a/b (N, 2, h, w) for L (N, 1, h, w), in pieces of at most ``batch_size``
        that share one reference (``refs``: each frame's index in ``references``, -1 none)."""
        refs = list(refs) if refs is not None else [-1] * len(L)
        parts, i = [], 0
        while i < len(L):
            step = min(self.batch_size, len(L) - i)
            step = next((k for k in range(1, step) if refs[i + k] != refs[i]), step)
            # given only when there is one: stand-ins for the colorizer need not know of references
            steer = {"reference": self.references[refs[i]][1]} if refs[i] >= 0 else {}
            try:
                parts.append(self.colorizer.ab_small(L[i : i + step], clamp=False, **steer))
                i += step
            except OutOfMemory:
                if step == 1:
                    raise FilmcolorError("out of GPU memory even for one frame; try --size smaller or --device cpu") from None
                self.batch_size = max(1, step // 2)
                self.notices.append(f"GPU out of memory: batch size lowered to {self.batch_size}")
        return np.concatenate(parts)
