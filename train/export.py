"""``python -m train.export RUN OUT``: a run's checkpoint in the shipped form
(fp16 safetensors with its config), checked by loading it back.

By default the run's best epoch (``best.safetensors``); with ``--last`` its
final epoch (``last.pt``), decoded the way that is best on the run's
validation photos (``evaluate_at_best_decoding``): with a cosine schedule the
final epoch is often as good, and less subject to the luck of one noisy
validation figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from filmcolor import checkpoint, model
from filmcolor.errors import ModelError

from . import data
from .loop import evaluate_at_best_decoding


def last_epoch(run: Path) -> tuple[model.ColorNet, checkpoint.ModelInfo]:
    """RUN's final weights, at their best decoding, with their validation figures."""
    net, info = checkpoint.load(run / "best.safetensors")  # architecture and data summary
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    net.load_state_dict(state["model"])
    figures = evaluate_at_best_decoding(net, None, data.validation_crops(run, info.train_size), 32,
                                        torch.device("cpu"))
    info.params = model.config_to_dict(net.cfg)
    info.validation = {k: round(v, 4) for k, v in figures.items() if v is not None and k != "val_loss"}
    info.validation["epoch"] = state["epoch"]
    return net, info


def export(run: Path, out: Path, last: bool = False) -> checkpoint.ModelInfo:
    net, info = last_epoch(run) if last else checkpoint.load(run / "best.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(out, net, info, half=True)
    checkpoint.load(out)
    return info


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--last", is_flag=True, help="The final epoch (at its best decoding) instead of the best one.")
def main(run: Path, out: Path, last: bool) -> None:
    """Write RUN's best (or final) checkpoint to OUT in the shipped format."""
    try:
        info = export(run, out, last)
    except ModelError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    size = out.stat().st_size / 1e6
    click.echo(f"{out}: {info.arch}, {size:.1f} MB, validation {info.validation}")


if __name__ == "__main__":
    main()
