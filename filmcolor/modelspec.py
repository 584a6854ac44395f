"""What another process needs to load the same colorizer: the model file, the
device and the size (no ONNX Runtime here: the command line imports this early)."""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    path: str | None  # None: the bundled model
    device: str = "auto"
    size: int | None = None

    def load(self):
        """The :class:`~filmcolor.colorizer.Colorizer`, loaded once per process."""
        return _load(self)


@functools.lru_cache(maxsize=2)
def _load(spec: ModelSpec):
    from .colorizer import Colorizer

    return Colorizer.load(spec.path, device=spec.device, size=spec.size)
