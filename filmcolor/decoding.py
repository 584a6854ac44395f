"""A classification head's bin logits to a/b, in numpy: the decoding the ONNX
graph does, for callers that change it (a reference's bias, a sweep of
decodings).

For each pixel: p = softmax(logits / T) over the Q bins with centres c_q;
a/b = E_p[c] * gain * sureness ** confidence, where sureness = |E_p c|^2 /
(E_p |c|^2 + 1) lies in [0, 1]: near 1 when the mass sits on one colour,
near 0 when it is spread over opposite ones, whose mean would be a colour
the network does not believe in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SURENESS_EPS = 1.0  # (LAB units)^2: a distribution all on the neutral bin is "unsure" of nothing


@dataclass(frozen=True)
class Decoding:
    temperature: float = 1.0  # annealed mean: low picks the likeliest colour, high the mean
    gain: float = 1.0  # a/b multiplied after decoding
    confidence: float = 0.0  # power of the sureness weight (0: not used)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax of ``x`` along ``axis`` (shifted by the maximum, so it never overflows)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sureness(mean: np.ndarray, second: np.ndarray) -> np.ndarray:
    """|E c|^2 / (E |c|^2 + 1): mean (..., 2) and second moment (...,) of a/b."""
    return (mean**2).sum(-1) / (second + SURENESS_EPS)


def decode(prob: np.ndarray, centres: np.ndarray, dec: Decoding) -> np.ndarray:
    """Probabilities over bins (..., Q) float32 (already at the decoding's
    temperature) and centres (Q, 2) a/b -> a/b (..., 2) float32 in LAB units."""
    if prob.shape[-1] != len(centres):
        raise ValueError(f"prob: expected {len(centres)} bins on the last axis. Got {prob.shape}")
    mean = prob @ centres
    if not dec.confidence:
        return mean * np.float32(dec.gain)
    second = prob @ (centres**2).sum(1)
    return mean * (np.float32(dec.gain) * sureness(mean, second)[..., None] ** np.float32(dec.confidence))
