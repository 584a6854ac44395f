"""Key frames: the network sees only some frames; the rest get colour carried
along the motion. Checked with a stand-in network whose colour is known."""

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from media import scene

from filmcolor.frames import FrameColorizer, FrameLayout
from filmcolor.temporal import Smoother

W, H = 96, 64


class LightnessPainter:
    """Stands in for a Colorizer: paints dark things (the disc of media.scene)
    red (a = +60), the rest green (a = -30), and counts the frames it is shown."""

    film_size = H

    def __init__(self):
        self.seen = 0

    def ab_small(self, L: np.ndarray, clamp: bool = True) -> np.ndarray:
        self.seen += len(L)
        a = np.where(L < 42, 60.0, -30.0).astype(np.float32)
        return np.concatenate([a, np.zeros_like(a)], axis=1)


def grey_frames(n: int, cut_at: int | None = None) -> list[av.VideoFrame]:
    frames = []
    for i in range(n):
        rgb = scene(i, W, H, kind=1 if cut_at is not None and i >= cut_at else 0)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i, Fraction(1, 24)
        frames.append(frame)
    return frames


def colorize_all(frames, key_interval, batch_size=8):
    painter = LightnessPainter()
    frame_colorizer = FrameColorizer(painter, FrameLayout(W, H, "yuv420p", "bt709", 1, False), batch_size, [],
                             key_interval=key_interval)
    smoother = Smoother()
    out = []
    for i in range(0, len(frames), batch_size):
        out += frame_colorizer.colorize(frames[i : i + batch_size], smoother)
    return out, painter, frame_colorizer, smoother


def cr(frame: av.VideoFrame) -> np.ndarray:
    """The Cr plane (H/2, W/2) as int."""
    return np.frombuffer(frame.planes[2], np.uint8).reshape(-1, frame.planes[2].line_size)[:, : W // 2].astype(int)


def disc_mask(i: int, grow: int = -5) -> np.ndarray:
    """Where the moving disc of media.scene is in frame i, at chroma size; its
    radius changed by ``grow`` pixels (a margin for the soft colour edge)."""
    yy, xx = np.mgrid[0 : H // 2, 0 : W // 2] * 2
    cx, cy = (i * 4) % W, H // 2
    return (xx - cx) ** 2 + (yy - cy) ** 2 < (min(W, H) // 5 + grow) ** 2


@pytest.mark.parametrize(("key_interval", "batch_size"), [(2, 8), (4, 8), (4, 3), (3, 1)])
def test_network_sees_one_frame_in_key_interval(key_interval, batch_size):
    frames = grey_frames(32)
    out, painter, frame_colorizer, _ = colorize_all(frames, key_interval, batch_size)
    assert len(out) == 32 and [f.pts for f in out] == list(range(32))
    assert painter.seen == pytest.approx(32 / key_interval, abs=2)
    assert frame_colorizer.carried == 32 - painter.seen


def test_key_interval_one_runs_the_network_on_every_frame():
    out, painter, frame_colorizer, _ = colorize_all(grey_frames(12), 1)
    assert painter.seen == 12 and frame_colorizer.carried == 0


def test_a_shot_starts_with_the_network_and_nothing_crosses_the_cut():
    frames = grey_frames(24, cut_at=13)  # 13 is neither a batch start nor a multiple of 4
    carried, painter, _, smoother = colorize_all(frames, 4)
    every, _, _, _ = colorize_all(frames, 1)
    assert smoother.cuts == 1
    # the first frame after the cut is the network's own colour, whatever came before
    assert np.array_equal(cr(carried[13]), cr(every[13]))
    assert not np.array_equal(cr(carried[12]), cr(every[12]))  # before it, frames really were carried
    assert painter.seen < 24


def test_colour_carried_before_a_cut_comes_from_its_own_shot_only():
    frames = grey_frames(24, cut_at=15)  # 13 and 14 lie between key frame 12 and the cut's first frame
    carried, _, frame_colorizer, smoother = colorize_all(frames, 4)
    alone, _, _, _ = colorize_all(frames[:15], 4)  # the first shot with nothing after it
    assert smoother.cuts == 1 and frame_colorizer.carried > 0
    for i in (13, 14):
        assert np.array_equal(cr(carried[i]), cr(alone[i])), i


def test_carried_frames_keep_the_moving_object_in_its_own_color():
    frames = grey_frames(24)
    out, _, frame_colorizer, _ = colorize_all(frames, 4)
    assert frame_colorizer.carried > 12
    for i in range(4, 24):
        disc = disc_mask(i)
        c = cr(out[i])
        # red disc (Cr well above neutral) where the disc is now, green around it
        assert c[disc].mean() > 150, i
        # the background beside the disc, in the rows it crosses (higher up the
        # sky is as dark as the disc, and so painted red too)
        beside = ~disc_mask(i, grow=12)
        beside[: H // 2 // 2 - 5] = beside[H // 2 // 2 + 5 :] = False
        assert c[beside].mean() < 110, i


def test_key_interval_must_be_positive():
    with pytest.raises(ValueError, match="key_interval"):
        FrameColorizer(LightnessPainter(), FrameLayout(W, H, "yuv420p", "bt709", 1, False), 8, [], key_interval=0)


@pytest.mark.parametrize("fmt,bits", [("nv12", 8), ("p010le", 10), ("yuv420p16le", 12), ("rgb48le", 12)])
def test_luma_of_any_pixel_format_keeps_its_depth(fmt, bits):
    from filmcolor.frames import luma_plane

    ramp = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    frame = av.VideoFrame.from_ndarray(np.dstack([ramp] * 3), format="rgb48le").reformat(format=fmt)
    y, got = luma_plane(frame)
    assert got == bits and y.shape == (48, 64)
    assert len(np.unique(y)) > (200 if bits > 8 else 150)  # the ramp's steps survive at that depth


class BreathingPainter(LightnessPainter):
    """Paints as LightnessPainter, its chroma stronger on every other call: key frames
    that the network judges differently, as the real one does."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def ab_small(self, L: np.ndarray, clamp: bool = True) -> np.ndarray:
        self.calls += 1
        return super().ab_small(L, clamp) * np.float32(1.8 if self.calls % 2 else 1.0)


def colorize_breathing(frames, memory: float):
    from filmcolor.temporal import SmoothConfig

    frame_colorizer = FrameColorizer(BreathingPainter(), FrameLayout(W, H, "yuv420p", "bt709", 1, False), 4, [],
                                     key_interval=4)
    smoother = Smoother(SmoothConfig(chroma_memory=memory))
    out = []
    for i in range(0, len(frames), 4):
        out += frame_colorizer.colorize(frames[i : i + 4], smoother)
    return out


def test_chroma_memory_keeps_a_shots_colour_from_breathing_and_a_cut_still_resets_it():
    frames = grey_frames(40, cut_at=24)
    plain, steady = colorize_breathing(frames, 0.0), colorize_breathing(frames, 0.8)
    spread = lambda out, a, b: np.std([np.abs(cr(f) - 128).mean() for f in out[a:b]])  # noqa: E731
    assert spread(steady, 0, 24) < 0.6 * spread(plain, 0, 24)
    assert np.array_equal(cr(steady[24]), cr(plain[24]))  # a new shot starts from the network's own colour


class DarkIsRed:
    """Stands in for a Colorizer: dark things red (a = +60), the rest grey."""

    film_size = 96

    def ab_small(self, L: np.ndarray, clamp: bool = True) -> np.ndarray:
        a = np.where(L < 30, 60.0, 0.0).astype(np.float32)
        return np.concatenate([a, np.zeros_like(a)], axis=1)


def pan_colour(cfg) -> list[float]:
    """A camera panning 3 px a frame over a grey texture brings a dark thing into view
    (fully in from frame 80 on): the thing's mean Cr above neutral, frame by frame."""
    w, h = 160, 96
    world = cv2.GaussianBlur(np.random.default_rng(0).uniform(120, 200, (h, 4 * w)).astype(np.float32), (0, 0), 3)
    world[30:70, 2 * w + 20 : 2 * w + 80] = 40
    frames = []
    for i in range(100):
        g = world[:, i * 3 : i * 3 + w].astype(np.uint8)
        f = av.VideoFrame.from_ndarray(np.dstack([g] * 3), format="rgb24").reformat(format="yuv420p")
        f.pts, f.time_base = i, Fraction(1, 24)
        frames.append(f)
    fc = FrameColorizer(DarkIsRed(), FrameLayout(w, h, "yuv420p", "bt709", 1, False), 8, [], key_interval=4)
    smoother, out = Smoother(cfg), []
    for i in range(0, len(frames), 8):
        out += fc.colorize(frames[i : i + 8], smoother)
    colour = []
    for i, f in enumerate(out):
        c = np.frombuffer(f.planes[2], np.uint8).reshape(-1, f.planes[2].line_size)[:, : w // 2].astype(int)
        lo, hi = max((2 * w + 20 - i * 3) // 2 + 3, 0), min((2 * w + 80 - i * 3) // 2 - 3, w // 2)
        colour.append(float(c[17:33, lo:hi].mean() - 128) if hi > lo + 2 else float("nan"))
    return colour


def test_a_thing_a_pan_brings_in_gets_its_colour_without_waiting():
    from filmcolor.temporal import SmoothConfig

    full = pan_colour(SmoothConfig(strength=0.0))[80]  # no history at all: the network's own colour
    assert full > 25
    steady = pan_colour(SmoothConfig())
    assert min(steady[80:]) > 0.85 * full
    # the whole-frame chroma memory (off by default) is what would hold it back
    assert pan_colour(SmoothConfig(chroma_memory=0.8))[80] < 0.5 * full
