import numpy as np
import pytest

from filmcolor.temporal import Motion, SmoothConfig, Smoother


def frame(t: int, h=48, w=64, kind=0):
    """L of a scene with a bright square moving right by 2 px a frame (kind 0), or a dark room (kind 1)."""
    L = np.full((h, w), 40.0 if kind == 0 else 10.0, np.float32)
    L += np.linspace(0, 20, w, dtype=np.float32)[None]
    if kind == 0:
        x = 10 + 2 * t
        L[16:32, x : x + 12] = 85
    else:
        L[5:20, 40:60] = 95
    return L


def noisy_ab(L, rng, base=(20.0, 30.0), noise=8.0):
    ab = np.stack([np.full_like(L, base[0]), np.full_like(L, base[1])])
    return ab + rng.normal(0, noise, size=(2, 1, 1)).astype(np.float32)  # frame-wide flicker


def test_smoothing_reduces_frame_to_frame_flicker():
    rng = np.random.default_rng(0)
    sm = Smoother()
    raw, smooth = [], []
    for t in range(20):
        L = frame(t)
        ab = noisy_ab(L, rng)
        raw.append(ab)
        smooth.append(sm.step(L, ab))
    jitter = lambda seq: np.mean([np.abs(b - a).mean() for a, b in zip(seq, seq[1:], strict=False)])  # noqa: E731
    assert jitter(smooth) < 0.6 * jitter(raw)


def test_cut_resets_history_exactly():
    rng = np.random.default_rng(1)
    sm = Smoother()
    for t in range(5):
        sm.step(frame(t), noisy_ab(frame(t), rng))
    L = frame(0, kind=1)
    ab = noisy_ab(L, rng, base=(-40.0, 10.0))
    out = sm.step(L, ab)
    assert sm.cuts == 1
    assert np.array_equal(out, ab)  # no colour from before the cut


def test_moving_object_keeps_its_own_color():
    sm = Smoother(SmoothConfig(strength=0.9))
    for t in range(8):
        L = frame(t)
        ab = np.zeros((2, *L.shape), np.float32)
        ab[0][L > 80] = 60.0  # the square is red, the rest grey
        out = sm.step(L, ab)
    square = L > 80
    assert out[0][square].mean() > 50  # not washed out by the grey that was there before
    assert np.abs(out[0][~square]).mean() < 5


def test_step_checks_shapes():
    with pytest.raises(ValueError, match="expected"):
        Smoother().step(np.zeros((4, 4), np.float32), np.zeros((2, 5, 4), np.float32))


def test_cut_with_the_same_histogram_is_found_by_motion_mismatch():
    """A cut to a mirrored scene keeps the luma histogram but nothing lines up."""
    rng = np.random.default_rng(2)
    sm = Smoother()
    base = np.kron(rng.uniform(10, 90, (6, 8)), np.ones((8, 8))).astype(np.float32)
    for _ in range(3):
        sm.step(base, noisy_ab(base, rng))
    flipped = base[::-1, ::-1].copy()
    ab = noisy_ab(flipped, rng, base=(-30.0, 5.0))
    assert np.array_equal(sm.step(flipped, ab), ab)
    assert sm.cuts == 1


def _bilinear(img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """img (H, W) sampled at (mx, my) in float64, edges replicated: the exact warp."""
    h, w = img.shape
    x, y = np.clip(mx.astype(np.float64), 0, w - 1), np.clip(my.astype(np.float64), 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    return (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x1] * fx * (1 - fy)
            + img[y1, x0] * (1 - fx) * fy + img[y1, x1] * fx * fy)


def test_history_is_carried_along_the_flow_by_an_exact_bilinear_warp():
    """OpenCV's two-channel float remap is off by up to 2 a/b units on a
    textured history; the carried colour must be the exact warp, plane by plane."""
    rng = np.random.default_rng(3)
    h, w = 40, 56
    prev = rng.uniform(-60, 60, (2, h, w)).astype(np.float32)  # a textured history
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    mx = gx + 0.37 + 1.3 * np.sin(gy / 7)  # sub-pixel motion, some of it from outside the frame
    my = gy - 0.61 + 0.9 * np.cos(gx / 5)
    sm = Smoother()
    sm.blend(Motion(fresh=True), prev)
    carried = sm.blend(Motion(fresh=False, maps=(mx, my), match=np.ones((h, w), np.float32)),
                       np.zeros_like(prev), strength=1.0)
    exact = np.stack([_bilinear(p.astype(np.float64), mx, my) for p in prev])
    assert carried.dtype == np.float32 and carried.shape == prev.shape
    assert np.abs(carried - exact).max() < 1e-3
