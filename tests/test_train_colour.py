"""The torch colour arithmetic of training (train/colour.py), against
scikit-image, OpenCV and the numpy side that inference uses."""

import cv2
import numpy as np
import pytest
import torch
from skimage import color as skcolor

from filmcolor import color as npcolor
from train import colour as color


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
    assert np.allclose(lab[0, :, 0].numpy(), npcolor.grey_l(v.numpy()), atol=1e-3)


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


def test_torch_clamp_is_the_numpy_clamp():
    g = torch.Generator().manual_seed(1)
    L = torch.rand(2, 1, 16, 16, generator=g) * 100
    ab = (torch.rand(2, 2, 16, 16, generator=g) - 0.5) * 250
    ours = color.clamp_ab(L, ab).numpy()
    theirs = npcolor.clamp_ab(L.numpy(), ab.numpy())
    assert np.abs(ours - theirs).max() < 1e-3
    assert np.abs(ours - ab.numpy()).max() > 10  # something was clamped
