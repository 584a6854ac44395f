"""What the commands share: one-line errors and exit codes, the model options,
loading the colorizer, and choosing where tasks run."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import FilmcolorError

if TYPE_CHECKING:  # ONNX Runtime comes with them: imported when a command needs a colorizer, not for --help
    from ..colorizer import Colorizer

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler, `timeout`, `docker stop`): unwound like Ctrl-C,
    so every half-written output is removed on the way out."""


def on_sigterm(signum, frame) -> None:
    raise Terminated

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def fail(message: str, code: int = EXIT_FAILED):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def guarded(fn):
    """Turn filmcolor's errors, Ctrl-C and unexpected crashes into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except Terminated:
            click.echo("terminated", err=True)
            sys.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except FilmcolorError as e:
            if debug:
                raise
            fail(str(e))
        except (ValueError, MemoryError) as e:
            if debug:
                raise
            fail(str(e) or type(e).__name__)

    return wrapper


def model_options(fn):
    """--model, --device, --size, -q, --debug: shared by every command that colorizes."""

    fn = click.option("--debug", is_flag=True, help="Show tracebacks.")(fn)
    fn = click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")(fn)
    fn = click.option("--size", default=None, type=click.IntRange(32, 2048),
                      help="Short side, in pixels, at which the network sees the picture (multiple of 32; "
                      "default: the model's, 192 for photos and 128 for films with the bundled one).")(fn)
    fn = click.option("--device", default="auto",
                      help="auto (CUDA, then CoreML or DirectML where installed, then CPU), cpu, cuda, cuda:1, coreml, dml.")(fn)
    fn = click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path),
                      help="An .onnx model file from python -m train.export (default: the bundled one; "
                      "films on the CPU run its int8 copy, default-int8.onnx).")(fn)
    return fn


def load_colorizer(model_path: Path | None, device: str, size: int | None, films: bool = False) -> Colorizer:
    if size is not None and size % 32:
        raise click.BadParameter(f"{size} is not a multiple of 32", param_hint="--size")
    from ..colorizer import Colorizer

    return Colorizer.load(model_path, device=device, size=size, films=films)


def steer(colorizer: Colorizer, path: Path, rgb, strength: float, size: int | None = None):
    """The colorizer's :class:`Reference` of a photo (calibrated at ``size``, default
    the photo size), its errors naming the photo."""
    try:
        return colorizer.reference(rgb, strength, size)
    except FilmcolorError as e:
        raise type(e)(f"reference {path}: {e}") from None


def given(name: str) -> bool:
    """Whether the user typed option ``name`` (rather than left its default)."""
    return click.get_current_context().get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def check_strength(has_reference: bool) -> None:
    if given("reference_strength") and not has_reference:
        click.echo("note: --reference-strength does nothing without a reference", err=True)



def pick_runner(workers: int = 1, ray: str | None = None, device: str = "auto"):
    """The runner for ``--workers`` and ``--ray``: Ray when an address is given
    (cluster.py, which alone imports Ray), a pool for several workers, else here."""
    from ..runners import Pool, Serial

    if ray is not None:
        from ..cluster import RayRunner

        return RayRunner(ray, device)
    return Pool(workers) if workers > 1 else Serial()
