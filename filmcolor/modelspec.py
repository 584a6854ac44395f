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
    films: bool = False  # for films: the int8 copy on a CPU with VNNI (network.bundled_path)

    def load(self):
        """The :class:`~filmcolor.colorizer.Colorizer`, loaded once per process."""
        return _load(self)


class Loaded:
    """A colorizer already loaded in this process, where a task expects a ModelSpec:
    the tasks a serial runner runs here share the command's own."""

    def __init__(self, colorizer):
        self.colorizer = colorizer

    def load(self):
        return self.colorizer


@functools.lru_cache(maxsize=2)
def _load(spec: ModelSpec):
    from .colorizer import Colorizer

    return Colorizer.load(spec.path, device=spec.device, size=spec.size, films=spec.films)
