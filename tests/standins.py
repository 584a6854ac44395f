"""A stand-in for the ONNX network, whose colour a test decides."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from filmcolor import Colorizer, ColorizerConfig
from filmcolor.color import AB_SCALE
from filmcolor.decoding import Decoding
from filmcolor.network import ModelInfo


class StandInNetwork:
    """What :class:`filmcolor.network.Network` offers, with a/b from ``paint``:
    L (N, 1, H, W) float32 in [0, 100] -> a/b (N, 2, H, W). A regression head."""

    kind = "regression"
    ab_centres = None
    decoding = Decoding()
    stride = 1
    device = "cpu"

    def __init__(self, paint: Callable[[np.ndarray], np.ndarray], train_size: int = 64):
        self.paint = paint
        self.info = ModelInfo(arch="unet", params={}, train_size=train_size)
        self.threads: int | None = None
        self.calls = 0

    def set_threads(self, threads: int | None) -> None:
        self.threads = threads

    def run(self, L: np.ndarray, raw: bool = False):
        self.calls += 1
        ab = np.ascontiguousarray(self.paint(L), dtype=np.float32)
        return ab, (ab / np.float32(AB_SCALE) if raw else None)


def stand_in_colorizer(paint: Callable[[np.ndarray], np.ndarray], size: int = 64) -> Colorizer:
    return Colorizer(StandInNetwork(paint, size), ColorizerConfig(size=size, device="cpu"))


def constant(a: float, b: float) -> Callable[[np.ndarray], np.ndarray]:
    """A paint that gives every pixel the same a/b."""
    return lambda L: np.broadcast_to(np.array([a, b], np.float32).reshape(1, 2, 1, 1), (len(L), 2, *L.shape[2:]))
