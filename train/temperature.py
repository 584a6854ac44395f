"""``python -m train.temperature RUN``: the annealed-mean temperature of a
classification model on the run's validation split (training already chose
one per epoch; this shows the whole sweep, and can rewrite the choice).

The temperature T only changes decoding (softmax(logits / T), then the
expectation over bins): low T picks the likeliest colour (vivid, riskier),
high T approaches the mean (safer, browner). Training does not fix it, so it
is chosen here, on validation figures, and written into the checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from filmcolor import checkpoint, model

from . import data
from .loop import TEMPERATURES, evaluate, selection_score


def sweep(run: Path, temperatures=TEMPERATURES) -> list[dict]:
    """Validation figures of RUN/best.safetensors at each temperature."""
    net, info = checkpoint.load(run / "best.safetensors")
    if info.params["head"]["kind"] != "classify":
        raise click.UsageError(f"{run}: a {info.params['head']['kind']} model has no temperature")
    _, val_files = data.read_split(run / "split.json")
    val = data.PhotoDataset(val_files, data.DataConfig(size=info.train_size), train=False)
    val_lab = torch.stack([val[i] for i in range(len(val))])
    rows = []
    for t in temperatures:
        net.head.cfg.temperature = t
        rows.append({"temperature": t, **evaluate(net, None, val_lab, 32, torch.device("cpu"))})
    return rows


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="Store the best temperature in RUN/best.safetensors.")
def main(run: Path, write: bool) -> None:
    """Print validation PSNR and colourfulness of RUN's best model per temperature."""
    rows = sweep(run)
    click.echo("T      PSNR   grey   colourful  truth")
    for r in rows:
        click.echo(f"{r['temperature']:<6} {r['psnr']:.2f}  {r['psnr_grey']:.2f}  "
                   f"{r['colorfulness']:8.1f}  {r['colorfulness_truth']:6.1f}")
    best = max(rows, key=selection_score)
    click.echo(f"best: T = {best['temperature']}")
    if write:
        net, info = checkpoint.load(run / "best.safetensors")
        net.head.cfg.temperature = best["temperature"]
        info.params = model.config_to_dict(net.cfg)
        info.validation = {k: round(v, 4) for k, v in best.items() if k != "val_loss"}
        checkpoint.save(run / "best.safetensors", net, info, half=False)
        click.echo(f"wrote T = {best['temperature']} into {run / 'best.safetensors'}")


if __name__ == "__main__":
    sys.exit(main())
