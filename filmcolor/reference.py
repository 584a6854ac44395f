"""Colour from a reference photo: the user shows a colour picture (the same
place, the real uniform, a later photo of the house) and the network's colour
is steered toward its palette, while the grey picture's own structure decides
where each colour goes.

With a classification head the network gives, per pixel, a probability for
each a/b bin. Each bin is weighed by how much more (or less) of that colour
the reference holds than the network's colour for this very picture does:

    p'(q | pixel) ~ p(q | pixel) * (ref(q) / mean over pixels of p(q | pixel)) ** strength

Strength 1 moves the picture's overall palette onto the reference's (Bayes'
rule with the reference as the new prior); 0 changes nothing. The picture's
own mean probability is the old prior here rather than the training set's:
a checkpoint does not carry the training set's, and this one already holds
what the network believes of this picture, so a reference that agrees with
it changes little. A regression head gives one a/b per pixel and no
probabilities: its a and b are moved toward the reference's mean and spread
instead (a colour transfer in a/b), by the same strength.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .errors import InputError

SIGMA = 5.0  # a/b units: each reference pixel votes for nearby bins with this Gaussian (Zhang et al.'s soft encoding)
FLOOR = 1e-3  # share mixed in uniformly: a colour the reference lacks is made rare, never impossible
GREY_CHROMA = 3.0  # mean C*ab below this: the "reference" is grey and has no palette to give
SIDE = 128  # the reference is read at this short side: a palette needs no detail
# on the held-out photos (benchmarks/reference.py), 0.5 keeps nearly all that a
# reference of the same scene gives (+2.7 dB over automatic; 1: +2.9 dB) and
# does half the harm of a wrong one (-6.1 dB; 1: -8.8 dB)
STRENGTH = 0.5


@dataclass
class Reference:
    """A reference photo's palette.

    hist: (Q,) float32, sums to 1: its share of each of the model's a/b bins
    (None for a regression model). mean, std: (2,) float32 a/b mean and spread.
    strength: 0 (no effect) .. 1 (the palette taken over) and beyond.
    """

    hist: torch.Tensor | None
    mean: torch.Tensor
    std: torch.Tensor
    strength: float = STRENGTH


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


def make_reference(rgb: np.ndarray, centres: torch.Tensor | None, strength: float = STRENGTH) -> Reference:
    """A :class:`Reference` from a colour picture, for a model whose bins are
    ``centres`` ((Q, 2) a/b; None for a regression model)."""
    if strength < 0:
        raise ValueError(f"reference strength must be >= 0. Got {strength}")
    ab = torch.from_numpy(reference_ab(rgb))
    hist = None
    if centres is not None:
        c = centres.float().cpu()
        votes = torch.softmax(-torch.cdist(ab, c) ** 2 / (2 * SIGMA**2), dim=1)  # (N, Q), each row sums to 1
        hist = votes.mean(0)
        hist = (1 - FLOOR) * hist + FLOOR / len(hist)
    return Reference(hist=hist, mean=ab.mean(0), std=ab.std(0).clamp(min=1.0), strength=strength)


def bin_bias(logits: torch.Tensor, ref: Reference) -> torch.Tensor:
    """The per-bin shift of the (tempered) logits that steers them to ``ref``.

    logits: (B, h, w, Q) float32, channels last. Returns (B, Q) float32 to add
    to every pixel's logits of that picture.
    """
    assert ref.hist is not None
    hist = ref.hist.to(logits.device)
    old = torch.softmax(logits, dim=-1).mean(dim=(1, 2))  # (B, Q): the picture's own palette
    return ref.strength * (hist.log()[None] - (old + FLOOR / old.shape[1]).log())


def steer_ab(ab: torch.Tensor, ref: Reference) -> torch.Tensor:
    """Regression models: a/b (B, 2, h, w) float32 moved toward the reference's
    mean and spread, per picture, by ``ref.strength`` (1: matched)."""
    mean = ab.mean(dim=(2, 3), keepdim=True)
    std = ab.std(dim=(2, 3), keepdim=True).clamp(min=1.0)
    want_mean = ref.mean.to(ab.device).view(1, 2, 1, 1)
    want_std = ref.std.to(ab.device).view(1, 2, 1, 1)
    s = ref.strength
    target_mean = mean + s * (want_mean - mean)
    target_std = std * (want_std / std) ** s
    return (ab - mean) / std * target_std + target_mean
