"""``python -m train.export RUN OUT``: a run's best checkpoint in the shipped form
(fp16 safetensors with its config), checked by loading it back."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from filmcolor import checkpoint
from filmcolor.errors import ModelError


def export(run: Path, out: Path) -> checkpoint.ModelInfo:
    net, info = checkpoint.load(run / "best.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(out, net, info, half=True)
    checkpoint.load(out)
    return info


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def main(run: Path, out: Path) -> None:
    """Write RUN's best checkpoint to OUT in the shipped format."""
    try:
        info = export(run, out)
    except ModelError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    size = out.stat().st_size / 1e6
    click.echo(f"{out}: {info.arch}, {size:.1f} MB, validation {info.validation}")


if __name__ == "__main__":
    main()
