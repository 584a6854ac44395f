"""filmcolor: plausible colour for black-and-white photographs and films.

>>> from filmcolor import Colorizer
>>> colorizer = Colorizer.load()           # the bundled default model  # doctest: +SKIP
>>> rgb = colorizer.colorize(grey_uint8)   # any size, 8 or 16 bit       # doctest: +SKIP
"""

__version__ = "0.1.0"

from .colorizer import Colorizer, ColorizerConfig  # noqa: E402
from .errors import FilmcolorError, InputError, ModelError, OutputError  # noqa: E402

__all__ = ["Colorizer", "ColorizerConfig", "FilmcolorError", "InputError", "ModelError", "OutputError", "__version__"]
