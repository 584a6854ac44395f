import cv2
import numpy as np
import pytest
from skimage import color as skcolor

from filmcolor import color


def random_rgb(n=4096, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 3), dtype=np.float32)  # (H=n, W=1, 3)


@pytest.mark.parametrize("bits,full,black,white", [(8, False, 16, 235), (8, True, 0, 255), (10, False, 64, 940)])
def test_l_from_luma_table_ends_and_monotone(bits, full, black, white):
    table = color.l_from_luma_table(bits, full)
    assert table.shape == (2**bits,)
    assert table[black] == pytest.approx(0, abs=1e-4)
    assert table[white] == pytest.approx(100, abs=1e-3)
    assert table[0] == 0 and table[-1] == pytest.approx(100)
    assert (np.diff(table) >= 0).all()


def test_l_from_luma_is_exact_for_grey():
    table = color.l_from_luma_table(8, full_range=True)
    grey = np.repeat(np.arange(256, dtype=np.float32)[:, None, None] / 255, 3, axis=2)
    ref = skcolor.rgb2lab(grey.astype(np.float64))[:, 0, 0]
    assert np.abs(table - ref).max() < 1e-3


def test_l_from_luma_rejects_odd_bit_depth():
    with pytest.raises(ValueError, match="bits"):
        color.l_from_luma_table(7)


def test_lab_to_rgb_matches_skimage_and_batches():
    rgb = random_rgb(512).reshape(2, 16, 16, 3)
    lab = skcolor.rgb2lab(rgb.astype(np.float64)).astype(np.float32)
    back = color.lab_to_rgb(lab.transpose(0, 3, 1, 2))
    assert back.shape == (2, 3, 16, 16) and back.dtype == np.float32
    assert np.abs(back - rgb.transpose(0, 3, 1, 2)).max() < 1e-3


def test_grey_l_matches_skimage():
    v = np.linspace(0, 1, 101)
    lab = skcolor.rgb2lab(np.repeat(v[:, None, None], 3, axis=2))
    assert np.abs(color.grey_l(v) - lab[:, 0, 0]).max() < 1e-3


def test_clamp_ab_brings_colors_into_gamut_and_keeps_hue():
    rng = np.random.default_rng(0)
    L = rng.random((1, 1, 32, 32), np.float32) * 100
    ab = (rng.random((1, 2, 32, 32), np.float32) - 0.5) * 300
    out = color.clamp_ab(L, ab)
    rgb = color.lab_to_linear(np.concatenate([L, out], 1)[0])
    assert rgb.min() > -0.01 and rgb.max() < 1.01
    n_out, n_ab = np.hypot(*out[0]), np.hypot(*ab[0])
    moved = n_out > 1
    cos = (out[0] * ab[0]).sum(0)[moved] / (n_out * n_ab)[moved]
    assert cos.min() > 0.999  # same hue
    assert (n_out < n_ab - 1).mean() > 0.5  # most of these wild colours were out of gamut


def test_clamp_ab_leaves_moderate_colors_alone():
    rgb = random_rgb(1024) * 0.6 + 0.2
    lab = color.rgb_to_lab(rgb).transpose(2, 0, 1)
    out = color.clamp_ab(lab[:1], lab[1:])
    assert np.abs(out - lab[1:]).max() < 1e-4


def test_clamp_ab_is_the_table_lookup_on_every_pixel_also_near_the_lowest_limit():
    # the clamp skips the hue of colours inside every hue's limit at their L: around
    # that line it must give exactly what looking every pixel up gives
    rng = np.random.default_rng(5)
    limits = color.chroma_limit_table()
    L = rng.random((2, 1, 64, 64), np.float32) * 100
    li = (L[:, 0] * ((limits.shape[0] - 1) / 100)).astype(np.int32)
    chroma = limits.min(axis=1)[li] * rng.uniform(0.97, 1.03, li.shape)
    hue = rng.uniform(0, 2 * np.pi, li.shape)
    ab = np.stack([chroma * np.cos(hue), chroma * np.sin(hue)], 1).astype(np.float32)
    c, cells = color.polar(ab[:, 0], ab[:, 1], limits.shape[1])
    want = (ab * np.minimum(limits[li, cells] / np.maximum(c, 1e-6), 1.0)[:, None]).astype(np.float32)
    got = color.clamp_ab(L, ab)
    assert np.array_equal(got, want)
    # whatever the layout (the clamp writes through flat views of its own copies)
    assert np.array_equal(color.clamp_ab(L, np.asfortranarray(ab)), want)
    swap = (0, 1, 3, 2)
    assert np.array_equal(color.clamp_ab(L.transpose(swap), ab.transpose(swap)), want.transpose(swap))
    Ln = L.copy()
    Ln[0, 0, 0, 0] = np.nan  # the L = 0 row: no lookup outside the table
    assert np.array_equal(color.clamp_ab(Ln, ab)[0, :, 0, 0], color.clamp_ab(np.zeros_like(L), ab)[0, :, 0, 0])
    assert (got != ab).any(axis=1).mean() > 0.01  # those at the lowest limit's hues were clamped


def test_polar_hue_cells_are_numpys_also_at_the_edges_of_cells():
    n = 180
    edges = np.arange(n) * (2 * np.pi / n)
    for off in (0.0, 1e-6, -1e-6, 1e-4, -1e-4, 0.5 * 2 * np.pi / n):  # OpenCV's angle is off by up to 2e-4
        for r in (0.5, 50.0):
            a, b = (r * np.cos(edges + off)).astype(np.float32), (r * np.sin(edges + off)).astype(np.float32)
            want = np.floor(np.arctan2(b, a) * (n / (2 * np.pi))).astype(np.int64) % n
            assert np.array_equal(color.polar(a, b, n)[1], want), (off, r)
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 30, (2, 7, 64, 96)).astype(np.float32)
    want = np.floor(np.arctan2(b, a) * (n / (2 * np.pi))).astype(np.int64) % n
    chroma, cells = color.polar(a, b, n)
    assert np.array_equal(cells, want)
    assert chroma.shape == a.shape and np.abs(chroma - np.hypot(a, b)).max() < 1e-4


def test_polar_odd_inputs_are_numpys_and_the_clamp_still_takes_them():
    n = 180
    tiny = np.float32([3e-16, -2e-18, 1e-13, 5e-20]), np.float32([3e-16, 7e-18, -1e-13, -5e-20])
    want = np.floor(np.arctan2(tiny[1], tiny[0]) * (n / (2 * np.pi))).astype(np.int64) % n
    assert np.array_equal(color.polar(*tiny, n)[1], want)  # OpenCV's angle is off below about 1e-12
    assert color.polar(np.float32(1), np.float32(-1e-10), n)[1] == n - 1  # 0-d, just below 2 pi
    assert color.polar(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), n)[1].shape == (0, 3)
    with pytest.raises(ValueError, match="one shape"):
        color.polar(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32), n)
    L = np.full((1, 1, 2, 2), 50, np.float32)
    ab = np.zeros((1, 2, 2, 2), np.float32)
    ab[0, :, 0, 0] = np.nan
    ab[0, :, 0, 1] = np.inf
    with np.errstate(invalid="ignore"):
        out = color.clamp_ab(L, ab)  # NaN in, NaN out: no lookup outside the table
    assert np.isnan(out[0, :, 0, 0]).all() and np.array_equal(out[0, :, 1], ab[0, :, 1])
    assert color.clamp_ab(np.zeros((0, 1, 4, 4), np.float32), np.zeros((0, 2, 4, 4), np.float32)).shape == (0, 2, 4, 4)


def test_check_image_reports_what_came_in():
    with pytest.raises(ValueError, match=r"expected \(\*, 3, H, W\). Got \(4, 4\)"):
        color.lab_to_rgb(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="floating"):
        color.lab_to_rgb(np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(TypeError, match="numpy array"):
        color.clamp_ab([[0.0]], np.zeros((2, 1, 1), np.float32))


def test_rgb_to_chroma_matches_opencv_bt601_full_range():
    rgb = random_rgb(1024)
    ours = color.rgb_to_chroma(rgb.transpose(2, 0, 1), "bt601", 8, full_range=True)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)  # float: Cr, Cb centred on 0.5
    cb, cr = ours[0, :, 0], ours[1, :, 0]
    # OpenCV's float YCrCb offsets by 0.5 and scales chroma by 1 (not 255/256)
    assert np.abs(cb - ycrcb[:, 0, 2] * 255).max() < 0.6
    assert np.abs(cr - ycrcb[:, 0, 1] * 255).max() < 0.6


def test_rgb_to_chroma_grey_is_centred_limited_and_10_bit():
    grey = np.full((3, 2, 2), 0.4, np.float32)
    assert np.allclose(color.rgb_to_chroma(grey, "bt709"), 128.0, atol=1e-4)
    assert np.allclose(color.rgb_to_chroma(grey, "bt709", bits=10), 512.0, atol=1e-3)
    blue = np.array([0.0, 0.0, 1.0], np.float32).reshape(3, 1, 1)
    assert color.rgb_to_chroma(blue, "bt709")[0].item() == pytest.approx(240, abs=0.01)
