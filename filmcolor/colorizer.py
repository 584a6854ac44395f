"""Colorizer: a loaded network that turns lightness into colour, at any size,
on any device.

The network always runs small: the image's short side is shrunk to ``size``
and the long side in proportion, to the nearest multiple of 32 (the network
needs multiples of 32; any other size given to ``ab_small`` is padded by
reflection instead). The a/b it predicts are gamut-clamped there, upsampled, and
joined to the untouched full-resolution lightness of the source.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import cv2
import numpy as np

from . import color
from .decoding import Decoding, decode, softmax
from .errors import InputError
from .network import ModelInfo, Network, bundled_path
from .reference import (
    STRENGTH,
    Reference,
    calibrate,
    fit_calibration,
    make_reference,
    steer_ab,
)
from .reference import bin_bias as bias_for

STRIP_ROWS = 512  # full-size rows recombined at a time: bounds memory for huge images


def small_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """The network's view of an h x w picture: short side ``size``, long side in
    proportion, rounded to the nearest multiple of 32 (at most 16 pixels off:
    a 720p frame at 128 is seen at 128 x 224 instead of 128 x 228, and its
    colour is resized back, so the output is never stretched)."""
    s = size / min(h, w)
    return max(32, round(h * s / 32) * 32), max(32, round(w * s / 32) * 32)


def shrink(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-average a picture (H, W) or (H, W, C) down to (h, w).

    OpenCV's area filter is fast only for whole-number factors, so the picture
    is first reduced by the largest whole factor (dropping at most factor - 1
    edge rows/columns, invisible at the network's size), then to (h, w):
    4x faster on a 720p frame than one fractional step.
    """
    H, W = plane.shape[:2]
    k = min(H // h, W // w)
    if k >= 2:
        plane = plane[: H - H % k, : W - W % k]
        plane = cv2.resize(plane, ((W - W % k) // k, (H - H % k) // k), interpolation=cv2.INTER_AREA)
    if plane.shape[:2] == (h, w):
        return plane
    interp = cv2.INTER_AREA if plane.shape[0] >= h else cv2.INTER_LINEAR
    return cv2.resize(plane, (w, h), interpolation=interp)


def _pad32(n: int) -> int:
    return -(-n // 32) * 32


def upsample(ab: np.ndarray, h: int, w: int) -> np.ndarray:
    """a/b (N, 2, h', w') float32 bilinearly resized to (N, 2, h, w), pixel centres aligned."""
    n, c = ab.shape[:2]
    planes = np.ascontiguousarray(ab.reshape(n * c, *ab.shape[2:]).transpose(1, 2, 0))
    big = cv2.resize(planes, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, n * c)
    return np.ascontiguousarray(big.transpose(2, 0, 1)).reshape(n, c, h, w)


@dataclass
class ColorizerConfig:
    # short side the network sees (multiple of 32); None: the model's own, photo_size
    # for photos and train_size for films (see ModelInfo)
    size: int | None = None
    device: str = "auto"  # auto, cpu, cuda[:N], coreml, dml (see network.providers_for)
    threads: int | None = None  # CPU threads of the network; None: one per physical core
    # a classification model's decoding; None: the model's own, inside its graph (faster)
    decoding: Decoding | None = None


class Colorizer:
    """A network ready for inference. Build with :meth:`load`."""

    def __init__(self, net: Network, cfg: ColorizerConfig):
        self.cfg = cfg
        self.net = net
        for size in (self.size, self.film_size):
            if size < 32 or size % 32:
                raise ValueError(f"size must be a positive multiple of 32. Got {size}")
        if cfg.decoding is not None and net.kind != "classify":
            raise ValueError("decoding: only a classification model's can be changed")
        self.decoding = cfg.decoding or net.decoding

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str = "auto", size: int | None = None,
             threads: int | None = None, decoding: Decoding | None = None, films: bool = False) -> Colorizer:
        """The ONNX model at ``path`` on ``device``, run at ``size`` (short side;
        None: the model's own sizes), decoded as ``decoding`` says (None: as the
        model says). ``path`` None is the bundled model: with ``films`` on a
        CPU with int8 dot products its int8 copy (network.bundled_path)."""
        cfg = ColorizerConfig(size=size, device=device, threads=threads, decoding=decoding)
        net = Network(bundled_path(device, films) if path is None else path, device, threads)
        if path is None and films and net.device == "cpu" and net.path != bundled_path("cpu", films):
            # a GPU provider is installed but could not start: the CPU's file after all
            net = Network(bundled_path("cpu", films), "cpu", threads)
        return cls(net, cfg)

    @property
    def info(self) -> ModelInfo:
        return self.net.info

    @property
    def device(self) -> str:
        """The device the network runs on: 'cpu', 'cuda', 'coreml' or 'dml'."""
        return self.net.device

    @property
    def size(self) -> int:
        """The short side photos are seen at: the one given, else the model's photo
        size (chosen on held-out photos), else the size it was trained at."""
        if self.cfg.size is not None:
            return self.cfg.size
        return self.net.info.photo_size or self.net.info.train_size

    @property
    def film_size(self) -> int:
        """The short side film frames are seen at: the one given, else the size the
        model was trained at (the smallest the network knows: films need its speed)."""
        return self.cfg.size if self.cfg.size is not None else self.net.info.train_size

    @property
    def threads(self) -> int | None:
        """CPU threads the network runs on now (None: one per physical core)."""
        return self.net.threads

    def set_threads(self, threads: int | None) -> None:
        """Run the network on ``threads`` CPU threads from now on (None: one per core)."""
        self.net.set_threads(threads)

    # -------------------------------------------------------------- small size

    def reference(self, rgb: np.ndarray, strength: float = STRENGTH, size: int | None = None) -> Reference:
        """A reference photo's palette and calibration for :meth:`colorize` and
        :meth:`ab_small` (see reference.py).

        rgb: (H, W, 3|4) uint8 or uint16 colour picture. Raises InputError if it
        is grey. strength: 0 (no effect) .. 1 (full effect). size: the short side
        the network will see the pictures it steers at (default: photos' :attr:`size`;
        films pass :attr:`film_size`), which the calibration is fitted at.
        """
        ref = make_reference(rgb, self.net.ab_centres if self.net.kind == "classify" else None, strength)
        # the network colours the reference's own lightness, seen as it sees any picture
        rgb = rgb[..., :3]
        h, w = rgb.shape[:2]
        lab = color.rgb_to_lab(shrink(rgb, *small_shape(h, w, size or self.size)))
        L = np.ascontiguousarray(lab[..., 0])
        got = self.ab_small(L[None, None], clamp=False, reference=ref)[0]  # no calibration yet
        ref.calibration = fit_calibration(L.reshape(-1), got.reshape(2, -1).T, lab[..., 1:].reshape(-1, 2))
        return ref

    def ab_small(self, L: np.ndarray, clamp: bool = True, reference: Reference | None = None) -> np.ndarray:
        """Colour for a batch of lightness planes at the network's size.

        L: (N, 1, h, w) float32 in [0, 100], any h, w (padded inside to
        multiples of 32). Returns (N, 2, h, w) float32 a/b in LAB units,
        gamut-clamped against L unless ``clamp`` is False (for callers that
        clamp later anyway). Holds one batch: split long sequences outside
        (network.OutOfMemory says the batch was too large for the device).
        ``reference`` steers every picture of the batch toward its colour.
        """
        color.check_image(L, 1, "L")
        L = L.astype(np.float32, copy=False)
        n, _, h, w = L.shape
        ph, pw = _pad32(h) - h, _pad32(w) - w
        x = L
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "edge"
            x = np.pad(L, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
        if reference is None and self.cfg.decoding is None:
            ab = self.net.run(x)[0]
        else:
            ab = upsample(self._steered(self.net.run(x, raw=True)[1], reference), h + ph, w + pw)
        ab = ab[..., :h, :w]
        if reference is not None:
            ab = calibrate(L, ab, reference)
        if clamp:
            ab = color.clamp_ab(L, ab)
        return np.ascontiguousarray(ab)

    def _steered(self, raw: np.ndarray, ref: Reference | None) -> np.ndarray:
        """a/b at the network's stride from the head's raw output, steered by ``ref`` (if any)."""
        net = self.net
        if net.kind == "classify":
            logits = raw.transpose(0, 2, 3, 1) / np.float32(self.decoding.temperature)  # (B, h, w, Q)
            prob = softmax(logits if ref is None else logits + bias_for(logits, ref)[:, None, None, :])
            ab = decode(prob, net.ab_centres, self.decoding)  # (B, h, w, 2)
            return np.ascontiguousarray(ab.transpose(0, 3, 1, 2), dtype=np.float32)
        return steer_ab(raw * np.float32(color.AB_SCALE * self.decoding.gain), ref)

    # ------------------------------------------------------------ still images

    def colorize(self, image: np.ndarray, reference: np.ndarray | Reference | None = None) -> np.ndarray:
        """Colour version of one picture, same size and depth.

        image: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; uint8 or uint16.
        Colour input is re-coloured from its lightness. Returns (H, W, 3) RGB,
        or (H, W, 4) with the alpha untouched when the input had alpha (grey +
        alpha comes as (H, W, 2) and goes out as RGBA), in the input's dtype.
        reference: a colour picture (RGB array, default strength) or a
        :meth:`reference` that the colour is steered toward.
        """
        if reference is not None and not isinstance(reference, Reference):
            reference = self.reference(reference)
        if image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"image: expected uint8 or uint16. Got {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (2, 3, 4)):
            raise ValueError(f"image: expected (H, W), (H, W, 2|3|4). Got {image.shape}")
        grey = image.ndim == 2 or image.shape[2] == 2
        alpha = image[..., -1] if image.ndim == 3 and image.shape[2] in (2, 4) else None
        pixels = image[..., 0] if grey and image.ndim == 3 else image
        if not grey:
            pixels = pixels[..., :3]
        h, w = pixels.shape[:2]
        hs, ws = small_shape(h, w, self.size)
        if max(hs, ws) >= color.SHRT_MAX:
            raise InputError(f"{w}x{h} is too long a picture to be seen at --size {self.size} (OpenCV takes at "
                             f"most {color.SHRT_MAX - 1} pixels a side); try a smaller --size or cut it into pieces")
        small = shrink(pixels, hs, ws)
        L_small = lightness(small).reshape(1, 1, hs, ws)
        ab = self.ab_small(L_small, reference=reference)[0]  # (2, hs, ws)

        out = np.empty((h, w, 4 if alpha is not None else 3), dtype=image.dtype)
        ab_hwc = np.ascontiguousarray(ab.transpose(1, 2, 0))  # (hs, ws, 2)
        for y0 in range(0, h, STRIP_ROWS):
            y1 = min(h, y0 + STRIP_ROWS)
            ab_rows = _upsample_rows(ab_hwc, h, w, y0, y1)  # (y1 - y0, w, 2)
            out[y0:y1, :, :3] = _join(pixels[y0:y1], ab_rows)
        if alpha is not None:
            out[..., 3] = alpha
        return out


def lightness(pixels: np.ndarray) -> np.ndarray:
    """L (H, W) float32 in [0, 100] of grey (H, W) or RGB (H, W, 3), uint8 or uint16."""
    if pixels.ndim == 2:
        return color.l_from_luma_table(8 * pixels.itemsize, full_range=True)[pixels]
    return color.rgb_to_lab(pixels)[..., 0]


@functools.lru_cache(maxsize=1)
def _grey_to_l8() -> np.ndarray:
    return np.round(color.l_from_luma_table(8, full_range=True) * 2.55).astype(np.uint8)


def _join(pixels: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) in pixels' dtype from the lightness of ``pixels`` (grey (H, W)
    or RGB (H, W, 3)) and a/b (H, W, 2) float32.

    8-bit pictures go through OpenCV's 8-bit LAB (L in steps of 0.4, far below
    what 8-bit RGB can show): several times faster than float at 12 megapixels.
    """
    if pixels.dtype == np.uint8:
        if pixels.ndim == 2:
            L8 = _grey_to_l8()[pixels]
        else:
            L8 = cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB)[..., 0]
        # a/b >= -110 always, so the absolute value in convertScaleAbs changes nothing
        lab = cv2.merge([L8, cv2.convertScaleAbs(ab, alpha=1.0, beta=128.0)])
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    rgb = cv2.cvtColor(np.dstack([lightness(pixels), ab]), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 65535.0 + 0.5, 0, 65535).astype(np.uint16)


def _upsample_rows(ab: np.ndarray, h: int, w: int, y0: int, y1: int) -> np.ndarray:
    """Rows y0..y1 of ab (hs, ws, 2) bilinearly resized to (h, w, 2), as cv2.resize would."""
    hs, ws = ab.shape[:2]
    sx, sy = ws / w, hs / h
    # inverse map, output (x, y) -> source: centres of pixels line up as in cv2.resize
    m = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]], dtype=np.float64)
    return cv2.warpAffine(
        ab, m, (w, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
