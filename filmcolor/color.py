"""Colour arithmetic: sRGB <-> CIE LAB (D65), L from video luma, a/b scaling,
gamut clamping and the chroma planes of Y'CbCr.

Conventions used throughout filmcolor:

- Images are torch tensors shaped ``(*, C, H, W)``; sRGB values are floats in
  ``[0, 1]``.
- LAB follows OpenCV and scikit-image (sRGB primaries, D65 white): L in
  ``[0, 100]``, a and b roughly ``[-86, 98]`` and ``[-108, 95]`` over sRGB.
- The network sees ``L / 50 - 1`` (``[-1, 1]``) and predicts ``ab / AB_SCALE``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

AB_SCALE = 110.0
"""a/b are divided by this before the network sees them; |a|, |b| < 110 over sRGB."""

# D65 reference white, as OpenCV and scikit-image use it.
_WHITE = (0.950456, 1.0, 1.088754)
_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ.double()).float()
_EPS = 216.0 / 24389.0  # CIE epsilon: (6/29)^3
_KAPPA = 24389.0 / 27.0

# Luma coefficients (Kr, Kb) of the Y'CbCr matrices a video can be tagged with.
LUMA_COEFFS = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
}


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
    return torch.where(t > _EPS, t.clamp_min(1e-12) ** (1 / 3), (_KAPPA * t + 16) / 116)


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t**3 > _EPS, t**3, (116 * t - 16) / _KAPPA)


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
    white = torch.tensor(_WHITE, dtype=xyz.dtype, device=xyz.device).view(3, 1, 1)
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
    white = torch.tensor(_WHITE, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    xyz = torch.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], dim=-3) * white
    return _mix(xyz, _XYZ_TO_RGB)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE LAB (D65) to sRGB, clipped to [0, 1].

    lab: (*, 3, H, W) float, L in [0, 100], a, b in about [-110, 110].
    Returns (*, 3, H, W) float sRGB in [0, 1]. Clamp a/b first
    (:func:`clamp_ab`) or clipping here shifts lightness and hue.
    """
    return linear_to_srgb(lab_to_rgb_unclipped(lab))


def grey_l(v: torch.Tensor | np.ndarray) -> torch.Tensor:
    """L of the grey sRGB colour (v, v, v). Any shape, v in [0, 1] -> L in [0, 100]."""
    y = srgb_to_linear(torch.as_tensor(v, dtype=torch.float64).clamp(0, 1))
    return (116 * _f(y) - 16).float()


@functools.lru_cache(maxsize=8)
def l_from_luma_table(bits: int = 8, full_range: bool = False) -> np.ndarray:
    """Lookup table from a luma code value to L, exact for grey pixels.

    A grey pixel has R' = G' = B' = Y', so L depends on Y' alone. Limited range
    puts black at 16 and white at 235 (scaled by 2^(bits-8)); full range uses
    0 .. 2^bits - 1. Values beyond black and white are clipped.

    Returns a read-only float32 array of shape (2**bits,), values in [0, 100].
    """
    if bits not in (8, 9, 10, 12, 16):
        raise ValueError(f"bits: expected 8, 9, 10, 12 or 16. Got {bits}")
    codes = np.arange(2**bits, dtype=np.float64)
    if full_range:
        v = codes / (2**bits - 1)
    else:
        scale = 2 ** (bits - 8)
        v = (codes - 16 * scale) / (219 * scale)
    table = grey_l(np.clip(v, 0, 1)).numpy()
    table.flags.writeable = False
    return table


def l_to_net(L: torch.Tensor) -> torch.Tensor:
    """Network input from L: (*, 1, H, W) in [0, 100] -> [-1, 1]."""
    return L / 50.0 - 1.0


def ab_to_net(ab: torch.Tensor) -> torch.Tensor:
    """Network target from a/b: (*, 2, H, W) in LAB units -> about [-1, 1]."""
    return ab / AB_SCALE


def net_to_ab(x: torch.Tensor) -> torch.Tensor:
    """a/b in LAB units from the network's scaled output (*, 2, H, W)."""
    return x * AB_SCALE


@functools.lru_cache(maxsize=4)
def _max_chroma_table(n_l: int = 101, n_hue: int = 180) -> torch.Tensor:
    """Largest in-gamut chroma for each (L, hue): (n_l, n_hue) float32, by bisection."""
    L = torch.linspace(0, 100, n_l, dtype=torch.float64).view(n_l, 1).expand(n_l, n_hue)
    hue = torch.arange(n_hue, dtype=torch.float64) * (2 * math.pi / n_hue)
    cos, sin = hue.cos().view(1, n_hue), hue.sin().view(1, n_hue)
    lo = torch.zeros(n_l, n_hue, dtype=torch.float64)
    hi = torch.full((n_l, n_hue), 200.0, dtype=torch.float64)
    for _ in range(24):
        mid = (lo + hi) / 2
        lab = torch.stack([L, mid * cos, mid * sin])  # (3, n_l, n_hue)
        rgb = lab_to_rgb_unclipped(lab)
        inside = ((rgb >= -1e-6) & (rgb <= 1 + 1e-6)).all(dim=0)
        lo = torch.where(inside, mid, lo)
        hi = torch.where(inside, hi, mid)
    return lo.float()


@functools.lru_cache(maxsize=1)
def _chroma_limit_table() -> torch.Tensor:
    """The chroma limit used by :func:`clamp_ab` for each cell of the (L, hue)
    table: the smallest of the cell's four corners (the gamut edge curves
    between entries), less a 1% margin. (n_l, n_hue) float32."""
    table = _max_chroma_table()
    n_l = table.shape[0]
    next_l = table[torch.arange(1, n_l + 1).clamp(max=n_l - 1)]
    lowest = torch.minimum(table, next_l)
    return torch.minimum(lowest, lowest.roll(-1, dims=1)) * 0.99


def clamp_ab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Shrink the chroma of each pixel until its colour lies inside sRGB.

    L: (*, 1, H, W) in [0, 100]; ab: (*, 2, H, W) in LAB units. Returns a/b of
    the same shape with the hue kept and chroma at most the largest that sRGB
    can show at that L and hue (looked up in a table). Without this, clipping
    in RGB shifts lightness and leaves blotches.
    """
    check_image(L, 1, "L")
    check_image(ab, 2, "ab")
    limits = _chroma_limit_table().to(ab.device)
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


def rgb_to_chroma(
    rgb: torch.Tensor, matrix: str = "bt709", bits: int = 8, full_range: bool = False
) -> torch.Tensor:
    """Cb, Cr code values of gamma-encoded RGB.

    rgb: (*, 3, H, W) float in [0, 1]. matrix: a key of ``LUMA_COEFFS``.
    Returns (*, 2, H, W) float code values for ``bits``-bit video: centred on
    2^(bits-1), spanning 224 (limited) or 255 (full) steps at 8 bits.
    """
    check_image(rgb, 3, "rgb")
    if matrix not in LUMA_COEFFS:
        raise ValueError(f"matrix: expected one of {sorted(LUMA_COEFFS)}. Got {matrix!r}")
    kr, kb = LUMA_COEFFS[matrix]
    r, g, b = rgb.unbind(-3)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))
    scale = 2 ** (bits - 8)
    span = (255.0 if full_range else 224.0) * scale
    centre = 128.0 * scale
    return torch.stack([cb, cr], dim=-3) * span + centre
