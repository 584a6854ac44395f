"""Colour arithmetic for training, in torch (batched, on the training device):
sRGB <-> CIE LAB (D65), a/b scaling and gamut clamping.

Same conventions as :mod:`filmcolor.color` (its numpy side serves inference):
images are tensors ``(*, C, H, W)``, sRGB floats in ``[0, 1]``, L in
``[0, 100]``; the network sees ``L / 50 - 1`` and predicts ``ab / AB_SCALE``.
"""

from __future__ import annotations

import math

import torch

from filmcolor.color import AB_SCALE, EPS, KAPPA, RGB_TO_XYZ, WHITE, chroma_limit_table

_RGB_TO_XYZ = torch.tensor(RGB_TO_XYZ, dtype=torch.float32)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ.double()).float()


def check_image(x: torch.Tensor, channels: int, name: str = "input") -> None:
    """Raise ``ValueError`` unless ``x`` is a floating tensor shaped (*, channels, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor. Got {type(x).__name__}")
    if x.ndim < 3 or x.shape[-3] != channels:
        raise ValueError(f"{name}: expected (*, {channels}, H, W). Got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating dtype. Got {x.dtype}")


def srgb_to_linear(v: torch.Tensor) -> torch.Tensor:
    """sRGB transfer function, inverse. Any shape, values in [0, 1] -> [0, 1]."""
    return torch.where(v > 0.04045, ((v + 0.055) / 1.055).clamp_min(0) ** 2.4, v / 12.92)


def linear_to_srgb(v: torch.Tensor) -> torch.Tensor:
    """sRGB transfer function. Any shape, linear values in [0, 1] -> [0, 1]."""
    v = v.clamp(0.0, 1.0)
    return torch.where(v > 0.0031308, 1.055 * v.clamp_min(1e-12) ** (1 / 2.4) - 0.055, v * 12.92)


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > EPS, t.clamp_min(1e-12) ** (1 / 3), (KAPPA * t + 16) / 116)


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t**3 > EPS, t**3, (116 * t - 16) / KAPPA)


def _mix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    # (*, 3, H, W) x (3, 3) -> (*, 3, H, W)
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB to CIE LAB (D65).

    rgb: (*, 3, H, W) float in [0, 1]. Returns (*, 3, H, W) float: L in [0, 100],
    a, b roughly in [-110, 110]. Matches ``cv2.COLOR_RGB2LAB`` on float32 input
    and ``skimage.color.rgb2lab``.

    >>> rgb_to_lab(torch.ones(3, 1, 1)).flatten().round().tolist()
    [100.0, 0.0, 0.0]
    """
    check_image(rgb, 3, "rgb")
    xyz = _mix(srgb_to_linear(rgb), _RGB_TO_XYZ)
    white = torch.tensor(WHITE, dtype=xyz.dtype, device=xyz.device).view(3, 1, 1)
    fx, fy, fz = _f(xyz / white).unbind(-3)
    lab = torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)
    return lab


def lab_to_rgb_unclipped(lab: torch.Tensor) -> torch.Tensor:
    """CIE LAB (D65) to linear RGB, without clipping: values outside [0, 1] are out of gamut.

    lab: (*, 3, H, W) float, L in [0, 100]. Returns (*, 3, H, W) linear RGB.
    """
    check_image(lab, 3, "lab")
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    white = torch.tensor(WHITE, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    xyz = torch.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], dim=-3) * white
    return _mix(xyz, _XYZ_TO_RGB)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE LAB (D65) to sRGB, clipped to [0, 1].

    lab: (*, 3, H, W) float, L in [0, 100], a, b in about [-110, 110].
    Returns (*, 3, H, W) float sRGB in [0, 1]. Clamp a/b first
    (:func:`clamp_ab`) or clipping here shifts lightness and hue.
    """
    return linear_to_srgb(lab_to_rgb_unclipped(lab))


def l_to_net(L: torch.Tensor) -> torch.Tensor:
    """Network input from L: (*, 1, H, W) in [0, 100] -> [-1, 1]."""
    return L / 50.0 - 1.0


def ab_to_net(ab: torch.Tensor) -> torch.Tensor:
    """Network target from a/b: (*, 2, H, W) in LAB units -> about [-1, 1]."""
    return ab / AB_SCALE


def net_to_ab(x: torch.Tensor) -> torch.Tensor:
    """a/b in LAB units from the network's scaled output (*, 2, H, W)."""
    return x * AB_SCALE


def clamp_ab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Shrink the chroma of each pixel until its colour lies inside sRGB.

    L: (*, 1, H, W) in [0, 100]; ab: (*, 2, H, W) in LAB units. Returns a/b of
    the same shape with the hue kept and chroma at most the largest that sRGB
    can show at that L and hue (looked up in a table). Without this, clipping
    in RGB shifts lightness and leaves blotches.
    """
    check_image(L, 1, "L")
    check_image(ab, 2, "ab")
    limits = torch.tensor(chroma_limit_table(), device=ab.device)
    n_l, n_hue = limits.shape
    a, b = ab.float().unbind(-3)
    chroma = torch.hypot(a, b)
    h = (torch.atan2(b, a) % (2 * math.pi)).mul_(n_hue / (2 * math.pi)).long() % n_hue
    li = L.float().squeeze(-3).clamp(0, 100).mul_((n_l - 1) / 100).long()
    limit = limits[li, h]
    scale = (limit / chroma.clamp_min(1e-6)).clamp_(max=1.0)
    return (ab.float() * scale.unsqueeze(-3)).to(ab.dtype)


def lab_to_rgb_clamped(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """sRGB from L and a/b after gamut clamping.

    L: (*, 1, H, W) in [0, 100]; ab: (*, 2, H, W). Returns (*, 3, H, W) in [0, 1].
    """
    return lab_to_rgb(torch.cat([L, clamp_ab(L, ab)], dim=-3))
