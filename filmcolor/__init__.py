"""filmcolor: plausible colour for black-and-white photographs and films.

>>> from filmcolor import Colorizer
>>> colorizer = Colorizer.load()           # the bundled default model  # doctest: +SKIP
>>> rgb = colorizer.colorize(grey_uint8)   # any size, 8 or 16 bit       # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import FilmcolorError, InputError, ModelError, OutputError

if TYPE_CHECKING:
    from .colorizer import Colorizer, ColorizerConfig

__version__ = "0.1.0"


def __getattr__(name: str):
    # ONNX Runtime is imported on first use, not on `import filmcolor`: the command line
    # answers --help and option errors without waiting for it
    if name in ("Colorizer", "ColorizerConfig"):
        from . import colorizer

        return getattr(colorizer, name)
    raise AttributeError(f"module 'filmcolor' has no attribute {name!r}")

__all__ = ["Colorizer", "ColorizerConfig", "FilmcolorError", "InputError", "ModelError", "OutputError", "__version__"]
