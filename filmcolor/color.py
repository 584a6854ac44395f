"""Colour arithmetic for inference, in numpy: L from video luma, gamut
clamping, LAB -> RGB and the chroma planes of Y'CbCr.

Conventions used throughout filmcolor:

- Batches of planes are numpy arrays shaped ``(*, C, H, W)`` float32; sRGB
  values are floats in ``[0, 1]``.
- LAB follows OpenCV and scikit-image (sRGB primaries, D65 white): L in
  ``[0, 100]``, a and b roughly ``[-86, 98]`` and ``[-108, 95]`` over sRGB.
  The RGB <-> LAB conversions themselves are OpenCV's (float32 path).
- The network sees L and predicts a/b in LAB units (the ONNX graph scales
  them: ``train/colour.py`` holds the training side of this arithmetic).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

AB_SCALE = 110.0
"""A regression head predicts a/b divided by this (its raw output); |a|, |b| < 110 over sRGB."""
SHRT_MAX = 32767  # OpenCV's resize and remap take picture sides below this

# D65 reference white, as OpenCV and scikit-image use it.
WHITE = (0.950456, 1.0, 1.088754)
RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
EPS = 216.0 / 24389.0  # CIE epsilon: (6/29)^3
KAPPA = 24389.0 / 27.0

# Luma coefficients (Kr, Kb) of the Y'CbCr matrices a video can be tagged with.
LUMA_COEFFS = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
}


def check_image(x: np.ndarray, channels: int, name: str = "input") -> None:
    """Raise ``ValueError`` unless ``x`` is a floating numpy array shaped (*, channels, H, W)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array. Got {type(x).__name__}")
    if x.ndim < 3 or x.shape[-3] != channels:
        raise ValueError(f"{name}: expected (*, {channels}, H, W). Got {tuple(x.shape)}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: expected a floating dtype. Got {x.dtype}")


def grey_l(v: np.ndarray) -> np.ndarray:
    """L of the grey sRGB colour (v, v, v). Any shape, v in [0, 1] -> L in [0, 100], float32."""
    v = np.clip(np.asarray(v, dtype=np.float64), 0, 1)
    y = np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    f = np.where(y > EPS, np.cbrt(y), (KAPPA * y + 16) / 116)
    return (116 * f - 16).astype(np.float32)


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
    table = grey_l(v)
    table.flags.writeable = False
    return table


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIE LAB (D65) to linear RGB without clipping: values outside [0, 1] are out of gamut.

    lab: (3, *) float, L in [0, 100] (channels first). Returns (3, *) float64.
    """
    L, a, b = np.asarray(lab, dtype=np.float64)
    fy = (L + 16) / 116
    f = np.stack([fy + a / 500, fy, fy - b / 200])
    xyz = np.where(f**3 > EPS, f**3, (116 * f - 16) / KAPPA) * np.reshape(WHITE, (3,) + (1,) * L.ndim)
    return np.tensordot(np.linalg.inv(RGB_TO_XYZ), xyz, axes=1)


@functools.lru_cache(maxsize=1)
def chroma_limit_table(n_l: int = 101, n_hue: int = 180) -> np.ndarray:
    """The chroma limit of :func:`clamp_ab` for each (L, hue) cell: (n_l, n_hue) float32.

    The largest in-gamut chroma at each entry is found by bisection; a cell's
    limit is the smallest of its four corners (the gamut edge curves between
    entries), less a 1% margin.
    """
    L = np.broadcast_to(np.linspace(0, 100, n_l)[:, None], (n_l, n_hue))
    hue = np.arange(n_hue) * (2 * math.pi / n_hue)
    cos, sin = np.cos(hue)[None], np.sin(hue)[None]
    lo, hi = np.zeros((n_l, n_hue)), np.full((n_l, n_hue), 200.0)
    for _ in range(24):
        mid = (lo + hi) / 2
        rgb = lab_to_linear(np.stack([L, mid * cos, mid * sin]))
        inside = ((rgb >= -1e-6) & (rgb <= 1 + 1e-6)).all(axis=0)
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    next_l = lo[np.minimum(np.arange(1, n_l + 1), n_l - 1)]
    lowest = np.minimum(lo, next_l)
    table = (np.minimum(lowest, np.roll(lowest, -1, axis=1)) * 0.99).astype(np.float32)
    table.flags.writeable = False
    return table


def polar(a: np.ndarray, b: np.ndarray, n_hue: int) -> tuple[np.ndarray, np.ndarray]:
    """Chroma and hue cell of each colour: hypot(a, b) (float32, within 1 ulp of
    numpy's) and floor(atan2(b, a) / (2 pi / n_hue)) mod n_hue (int32 in
    [0, n_hue) for finite a, b).

    a, b: arrays of one shape (any, empty too), taken as float32. OpenCV's
    cartToPolar (4x faster than numpy's hypot and arctan2, its angle within
    2e-4 rad) decides the cell of every colour but those within 7e-4 rad of a
    cell's edge, those below 1e-12 (where OpenCV's angle is off) and NaN or
    inf; numpy's float32 arctan2 decides those, so the cells are exactly numpy's.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"a and b: expected one shape. Got {a.shape} and {b.shape}")
    shape = a.shape
    if a.size == 0:
        return np.zeros(shape, np.float32), np.zeros(shape, np.int32)
    a2, b2 = (np.ascontiguousarray(x, dtype=np.float32).reshape(-1, shape[-1] if shape else 1) for x in (a, b))
    chroma, angle = cv2.cartToPolar(a2, b2)  # angle in [0, 2 pi]
    k = n_hue / (2 * math.pi)
    pos = angle.ravel() * np.float32(k)
    with np.errstate(invalid="ignore"):  # a NaN's cell is any cell: its chroma stays NaN
        cells = pos.astype(np.int32)
        frac = pos - cells
        m = 7e-4 * k
        a1, b1 = a2.ravel(), b2.ravel()
        tiny = np.maximum(np.abs(a1), np.abs(b1)) < 1e-12
        edge = np.flatnonzero(~((frac >= m) & (frac <= 1 - m)) | tiny)  # NaN and inf go to numpy too
        if edge.size:
            cells[edge] = np.floor(np.arctan2(b1[edge], a1[edge]) * k).astype(np.int32) % n_hue
    return chroma.reshape(shape), cells.reshape(shape)


def clamp_ab(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Shrink the chroma of each pixel until its colour lies inside sRGB.

    L: (*, 1, H, W) float in [0, 100]; ab: (*, 2, H, W) float in LAB units.
    Returns float32 a/b of ab's shape with the hue kept and chroma at most the
    largest that sRGB can show at that L and hue (looked up in a table).
    Without this, clipping in RGB shifts lightness and leaves blotches.
    """
    check_image(L, 1, "L")
    check_image(ab, 2, "ab")
    limits = chroma_limit_table()
    n_l, n_hue = limits.shape
    # fresh C-ordered copies, whatever the input's layout: the clamp writes into them through flat views
    a, b = (ab[..., k, :, :].astype(np.float32, order="C") for k in (0, 1))
    # fmax: a NaN L takes the L = 0 row (as a wrapped index did before); L may broadcast against ab
    Lc = np.minimum(np.fmax(L[..., 0, :, :], 0), 100)
    li = np.broadcast_to((Lc * ((n_l - 1) / 100)).astype(np.int32), a.shape).ravel()
    af, bf = a.reshape(-1), b.reshape(-1)
    if af.size:
        # a colour inside the smallest limit of any hue at its L needs no hue: most
        # colours a network paints; the margin covers OpenCV's chroma against polar's
        chroma = cv2.magnitude(af.reshape(-1, 1), bf.reshape(-1, 1)).ravel()
        over = np.flatnonzero(~(chroma <= _lowest_limit()[li]))  # NaN goes the long way too
        if over.size:
            c, h = polar(af[over], bf[over], n_hue)
            scale = np.minimum(limits.ravel()[li[over] * n_hue + h] / np.maximum(c, 1e-6), 1.0)
            if ab.dtype == np.float32:
                af[over] *= scale
                bf[over] *= scale
            else:  # multiplied at the input's precision, then rounded, as a whole-array clamp would
                for flat, k in ((af, 0), (bf, 1)):
                    flat[over] = (np.broadcast_to(ab[..., k, :, :], a.shape).reshape(-1)[over] * scale)
    return np.stack([a, b], axis=-3)


@functools.lru_cache(maxsize=1)
def _lowest_limit() -> np.ndarray:
    """Each L row's smallest chroma limit over all hues, less 1e-5 of it: (n_l,) float32."""
    table = (chroma_limit_table().min(axis=1) * np.float32(1 - 1e-5)).astype(np.float32)
    table.flags.writeable = False
    return table


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE LAB (D65) to sRGB, clipped to [0, 1], by OpenCV.

    lab: (*, 3, H, W) float, L in [0, 100]. Returns (*, 3, H, W) float32 sRGB
    in [0, 1]. Clamp a/b first (:func:`clamp_ab`) or clipping shifts lightness and hue.
    """
    check_image(lab, 3, "lab")
    *lead, _, h, w = lab.shape
    hwc = np.ascontiguousarray(np.moveaxis(lab.astype(np.float32), -3, -1)).reshape(-1, w, 3)
    rgb = cv2.cvtColor(hwc, cv2.COLOR_LAB2RGB).reshape(*lead, h, w, 3)
    return np.moveaxis(rgb, -1, -3)


def lab_to_rgb_clamped(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """sRGB from L and a/b after gamut clamping.

    L: (*, 1, H, W) float in [0, 100]; ab: (*, 2, H, W). Returns (*, 3, H, W) float32 in [0, 1].
    """
    return lab_to_rgb(np.concatenate([L.astype(np.float32), clamp_ab(L, ab)], axis=-3))


def rgb_to_chroma(rgb: np.ndarray, matrix: str = "bt709", bits: int = 8, full_range: bool = False) -> np.ndarray:
    """Cb, Cr code values of gamma-encoded RGB.

    rgb: (*, 3, H, W) float in [0, 1]. matrix: a key of ``LUMA_COEFFS``.
    Returns (*, 2, H, W) float32 code values for ``bits``-bit video: centred on
    2^(bits-1), spanning 224 (limited) or 255 (full) steps at 8 bits.
    """
    check_image(rgb, 3, "rgb")
    if matrix not in LUMA_COEFFS:
        raise ValueError(f"matrix: expected one of {sorted(LUMA_COEFFS)}. Got {matrix!r}")
    kr, kb = LUMA_COEFFS[matrix]
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    y = kr * r + (1 - kr - kb) * g + kb * b
    scale = 2 ** (bits - 8)
    span = (255.0 if full_range else 224.0) * scale
    centre = 128.0 * scale
    cb = (b - y) * (span / (2 * (1 - kb))) + centre
    cr = (r - y) * (span / (2 * (1 - kr))) + centre
    return np.stack([cb, cr], axis=-3).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (H, W, 3) float32 in [0, 1] (or uint8/uint16) -> LAB (H, W, 3) float32, by OpenCV."""
    if rgb.dtype in (np.uint8, np.uint16):
        rgb = rgb.astype(np.float32) * (1.0 / np.iinfo(rgb.dtype).max)
    return cv2.cvtColor(rgb.astype(np.float32, copy=False), cv2.COLOR_RGB2LAB)
