"""The ``filmcolor`` command line: parses options and calls the library.

Errors the user can act on come out as one line on stderr and a non-zero exit
code; ``--debug`` shows the traceback instead. One module a command:
photos.py (``image``), films.py (``video``), evaluation.py (``evaluate``);
what they share is in common.py.
"""

from __future__ import annotations

import signal
import threading

import click

from .. import __version__
from .common import CONTEXT, on_sigterm
from .evaluation import evaluate
from .films import video
from .photos import image


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="filmcolor")
def main() -> None:
    """Plausible colour for black-and-white photographs and films."""
    if threading.current_thread() is threading.main_thread():  # signals can only be set there
        signal.signal(signal.SIGTERM, on_sigterm)


for command in (image, video, evaluate):
    main.add_command(command)
