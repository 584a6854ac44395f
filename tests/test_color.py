import cv2
import numpy as np
import pytest
import torch
from skimage import color as skcolor

from filmcolor import color


def random_rgb(n=4096, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 3), dtype=np.float32)  # (H=n, W=1, 3)


def test_rgb_to_lab_matches_opencv_and_skimage():
    rgb = random_rgb()
    ours = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    cv = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    sk = skcolor.rgb2lab(rgb.astype(np.float64))
    assert np.abs(ours - sk).max() < 0.02
    # OpenCV interpolates from tables (a, b come out in steps of 1/64): looser
    assert np.abs(ours - cv).max() < 0.6


def test_lab_to_rgb_round_trip_and_batch_shapes():
    rgb = torch.from_numpy(random_rgb(512)).permute(2, 0, 1).reshape(2, 3, 16, 16)
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    assert back.shape == (2, 3, 16, 16)
    assert (back - rgb).abs().max() < 1e-4
    assert color.rgb_to_lab(rgb[0]).shape == (3, 16, 16)


def test_grey_pixels_have_zero_ab():
    v = torch.linspace(0, 1, 101)
    grey = v.view(1, 101, 1).expand(3, 101, 1)
    lab = color.rgb_to_lab(grey)
    assert lab[1:].abs().max() < 1e-3
    assert torch.allclose(lab[0, :, 0], color.grey_l(v), atol=1e-3)


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


def test_ab_scaling_round_trip():
    ab = torch.randn(2, 2, 4, 4) * 50
    assert torch.allclose(color.net_to_ab(color.ab_to_net(ab)), ab)
    assert color.l_to_net(torch.tensor([0.0, 50.0, 100.0])).tolist() == [-1.0, 0.0, 1.0]


def test_clamp_ab_brings_colors_into_gamut_and_keeps_hue():
    g = torch.Generator().manual_seed(0)
    L = torch.rand(1, 1, 32, 32, generator=g) * 100
    ab = (torch.rand(1, 2, 32, 32, generator=g) - 0.5) * 300
    out = color.clamp_ab(L, ab)
    rgb = color.lab_to_rgb_unclipped(torch.cat([L, out], 1))
    assert rgb.min() > -0.01 and rgb.max() < 1.01
    moved = out.norm(dim=1) > 1
    cos = (out * ab).sum(1)[moved] / (out.norm(dim=1) * ab.norm(dim=1))[moved]
    assert cos.min() > 0.999  # same hue


def test_clamp_ab_leaves_moderate_colors_alone():
    rgb = torch.from_numpy(random_rgb(1024)).permute(2, 0, 1) * 0.6 + 0.2
    lab = color.rgb_to_lab(rgb)
    out = color.clamp_ab(lab[:1], lab[1:])
    assert (out - lab[1:]).abs().max() < 1e-4


def test_check_image_reports_what_came_in():
    with pytest.raises(ValueError, match=r"expected \(\*, 3, H, W\). Got \(4, 4\)"):
        color.rgb_to_lab(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="floating"):
        color.rgb_to_lab(torch.zeros(3, 4, 4, dtype=torch.uint8))


def test_rgb_to_chroma_matches_opencv_bt601_full_range():
    rgb = random_rgb(1024)
    ours = color.rgb_to_chroma(torch.from_numpy(rgb).permute(2, 0, 1), "bt601", 8, full_range=True)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)  # float: Cr, Cb centred on 0.5
    cb, cr = ours[0, :, 0].numpy(), ours[1, :, 0].numpy()
    # OpenCV's float YCrCb offsets by 0.5 and scales chroma by 1 (not 255/256)
    assert np.abs(cb - ycrcb[:, 0, 2] * 255).max() < 0.6
    assert np.abs(cr - ycrcb[:, 0, 1] * 255).max() < 0.6


def test_rgb_to_chroma_grey_is_centred_limited_and_10_bit():
    grey = torch.full((3, 2, 2), 0.4)
    assert torch.allclose(color.rgb_to_chroma(grey, "bt709"), torch.full((2, 2, 2), 128.0))
    assert torch.allclose(color.rgb_to_chroma(grey, "bt709", bits=10), torch.full((2, 2, 2), 512.0))
    blue = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)
    assert color.rgb_to_chroma(blue, "bt709")[0].item() == pytest.approx(240, abs=0.01)
