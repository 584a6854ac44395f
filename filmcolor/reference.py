"""Colour from a reference photo: the user shows a colour picture (the same
place, the real uniform, a later photo of the house) and the network's colour
is steered toward it, while the grey picture's own structure decides where
each colour goes. Two steps, both cheap enough for films:

1. Palette. With a classification head the network gives, per pixel, a
   probability for each a/b bin. Each bin is weighed by how much more (or
   less) of that colour the reference holds than the network's colour for
   this very picture does:

       p'(q | pixel) ~ p(q | pixel) * (ref(q) / mean over pixels of p(q | pixel)) ** PALETTE

   (Bayes' rule with the reference as the new prior, taken PALETTE of the
   way.) The picture's own mean probability is the old prior here rather than
   the training set's: a checkpoint does not carry the training set's, and
   this one already holds what the network believes of this picture, so a
   reference that agrees with it changes little. A regression head gives one
   a/b per pixel and no probabilities: its a and b are moved toward the
   reference's mean and spread instead (a colour transfer in a/b).

2. Calibration. The reference also shows how the network errs in this kind of
   scene: the network colours the reference's own lightness (with step 1),
   and a least-squares map from what it gave to the reference's true colour
   is fitted there: a/b = M (a', b') + c(L), a 2x2 matrix and an offset for
   each of LIGHT_BANDS bands of lightness. It is then applied to every
   picture the reference steers. With the true photo as its own reference
   the fit is on the very pixels being scored, and since "no colour" is one
   of the maps it can choose, the colour can never come out further from the
   truth than grey at the network's size (benchmarks/reference.py: not one
   of 118 held-out photos).

``strength`` blends: 0 is the automatic colour exactly, 1 both steps in full.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from .decoding import softmax
from .errors import InputError

SIGMA = 5.0  # a/b units: each reference pixel votes for nearby bins with this Gaussian (Zhang et al.'s soft encoding)
FLOOR = 1e-3  # share mixed in uniformly: a colour the reference lacks is made rare, never impossible
GREY_CHROMA = 3.0  # mean C*ab below this: the "reference" is grey and has no palette to give
SIDE = 128  # the reference is read at this short side: a palette needs no detail
# the palette step taken half way (python benchmarks/reference.py --palette P, on the
# held-out photos, with the calibration): a reference of the same scene gives 25.87 /
# 26.35 / 26.52 dB at P = 0 / 0.5 / 1, a wrong one 17.92 / 15.18 / 14.36 (automatic: 22.4)
PALETTE = 0.5
LIGHT_BANDS = 8  # lightness bands of the calibration's offset (hat functions over L 0..100)
RIDGE = 1e-2  # per pixel: shrinks a fit on few pixels toward no colour, which is never worse than grey
STRENGTH = 1.0
# the calibrated colour is never more colourful than nearly all of the reference: where the
# network was nearly grey on the reference, its map has gains up to 16 (held-out photos),
# which would blow up a picture the network colours more strongly
CHROMA_QUANTILE = 0.99


@dataclass
class Reference:
    """A reference photo's palette and calibration.

    hist: (Q,) float32, sums to 1: its share of each of the model's a/b bins
    (None for a regression model). mean, std: (2,) float32 a/b mean and spread.
    calibration: (LIGHT_BANDS + 2, 2) float32, the map of :func:`calibrate`
    (None until a network has coloured the reference: Colorizer.reference).
    chroma: the most colourful the calibrated colour may be (C*ab, the
    reference's CHROMA_QUANTILE).
    strength: 0 (no effect) .. 1 (full effect).
    """

    hist: np.ndarray | None
    mean: np.ndarray
    std: np.ndarray
    strength: float = STRENGTH
    calibration: np.ndarray | None = None
    chroma: float = 128.0

    def digest(self) -> str:
        """A short hash of everything that shapes the colour (for resuming a film).

        Rounded first: the same photo read again in another run must match even
        if a different thread count moved the last bits of the fit.
        """
        h = hashlib.sha256(f"{self.strength!r} {self.chroma:.3f}".encode())
        for t in (self.hist, self.mean, self.std, self.calibration):
            h.update(b"-" if t is None else np.round(np.asarray(t, dtype=np.float64), 3).tobytes())
        return h.hexdigest()[:16]


def reference_ab(rgb: np.ndarray) -> np.ndarray:
    """The a/b of a colour picture, (N, 2) float32 in LAB units, read small.

    rgb: (H, W, 3) or (H, W, 4) uint8 or uint16 RGB(A). Raises InputError when
    it is grey (or nearly: mean chroma below GREY_CHROMA).
    """
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype not in (np.uint8, np.uint16):
        raise InputError("has no colour to give (it is grey)")
    h, w = rgb.shape[:2]
    scale = min(1.0, SIDE / min(h, w))
    small = cv2.resize(rgb[..., :3], (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / np.iinfo(rgb.dtype).max, cv2.COLOR_RGB2LAB)
    ab = lab[..., 1:].reshape(-1, 2)
    if np.hypot(ab[:, 0], ab[:, 1]).mean() < GREY_CHROMA:
        raise InputError("has no colour to give (it is grey or nearly so)")
    return ab


def make_reference(rgb: np.ndarray, centres: np.ndarray | None, strength: float = STRENGTH) -> Reference:
    """A :class:`Reference` from a colour picture, for a model whose bins are
    ``centres`` ((Q, 2) float32 a/b; None for a regression model)."""
    if not 0 <= strength <= 1:
        raise ValueError(f"reference strength must be in [0, 1]. Got {strength}")
    ab = reference_ab(rgb).astype(np.float64)
    hist = None
    if centres is not None:
        c = np.asarray(centres, dtype=np.float64)
        dist2 = ((ab[:, None, :] - c[None]) ** 2).sum(-1)  # (N, Q)
        votes = softmax(-dist2 / (2 * SIGMA**2), axis=1)  # each row sums to 1
        hist = votes.mean(0)
        hist = ((1 - FLOOR) * hist + FLOOR / len(hist)).astype(np.float32)
    chroma = float(np.quantile(np.hypot(ab[:, 0], ab[:, 1]), CHROMA_QUANTILE))
    return Reference(hist=hist, mean=ab.mean(0).astype(np.float32),
                     std=np.maximum(ab.std(0, ddof=1), 1.0).astype(np.float32), strength=strength, chroma=chroma)


def bin_bias(logits: np.ndarray, ref: Reference) -> np.ndarray:
    """The per-bin shift of the (tempered) logits that steers them to ``ref``.

    logits: (B, h, w, Q) float32, channels last. Returns (B, Q) float32 to add
    to every pixel's logits of that picture.
    """
    assert ref.hist is not None
    old = softmax(logits).mean(axis=(1, 2))  # (B, Q): the picture's own palette
    return (PALETTE * ref.strength * (np.log(ref.hist)[None] - np.log(old + FLOOR / old.shape[1]))).astype(np.float32)


def steer_ab(ab: np.ndarray, ref: Reference) -> np.ndarray:
    """Regression models: a/b (B, 2, h, w) float32 moved toward the reference's
    mean and spread, per picture, PALETTE * ``ref.strength`` of the way."""
    mean = ab.mean(axis=(2, 3), keepdims=True)
    std = np.maximum(ab.std(axis=(2, 3), keepdims=True, ddof=1), 1.0)
    want_mean = ref.mean.reshape(1, 2, 1, 1)
    want_std = ref.std.reshape(1, 2, 1, 1)
    s = PALETTE * ref.strength
    target_mean = mean + s * (want_mean - mean)
    target_std = std * (want_std / std) ** s
    return ((ab - mean) / std * target_std + target_mean).astype(np.float32)


def _features(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """(N,) lightness in [0, 100] and (N, 2) a/b -> (N, LIGHT_BANDS + 2): a hat
    function per band of lightness (they sum to 1), then a and b."""
    pos = np.clip(L, 0, 100) * ((LIGHT_BANDS - 1) / 100)
    bands = np.maximum(1 - np.abs(pos[:, None] - np.arange(LIGHT_BANDS, dtype=L.dtype)), 0)
    return np.concatenate([bands, ab], axis=1)


def fit_calibration(L: np.ndarray, got: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The map from the network's colour to the true colour of one reference.

    L: (N,) float32 lightness in [0, 100]; got, truth: (N, 2) float32 a/b, what
    the network gave the reference's lightness and what the reference holds.
    Returns (LIGHT_BANDS + 2, 2) float32 for :func:`calibrate`: ridge least
    squares, so its error on these pixels is at most that of no colour.
    """
    if L.ndim != 1 or got.shape != (len(L), 2) or truth.shape != got.shape:
        raise ValueError(f"expected (N,), (N, 2), (N, 2). Got {L.shape}, {got.shape}, {truth.shape}")
    x = _features(L.astype(np.float64), got.astype(np.float64))
    gram = x.T @ x + RIDGE * len(L) * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ truth.astype(np.float64)).astype(np.float32)


def calibrate(L: np.ndarray, ab: np.ndarray, ref: Reference) -> np.ndarray:
    """a/b (B, 2, h, w) float32 mapped by the reference's calibration, blended
    with the input by ``ref.strength``. L: (B, 1, h, w) float32 in [0, 100]."""
    if ref.calibration is None or ref.strength == 0:
        return ab
    b, _, h, w = ab.shape
    flat = ab.transpose(0, 2, 3, 1).reshape(-1, 2)
    mapped = _features(L.reshape(-1).astype(np.float32), flat) @ ref.calibration
    # pulled in toward grey, never past the reference's chroma: with the true photo as
    # reference that is a move into a disc holding nearly all the true colours, never away
    norm = np.maximum(np.hypot(mapped[:, 0], mapped[:, 1]), 1e-6)[:, None]
    mapped = mapped * np.minimum(ref.chroma / norm, 1.0)
    mapped = mapped.reshape(b, h, w, 2).transpose(0, 3, 1, 2)
    return (ab + ref.strength * (mapped - ab)).astype(np.float32)
