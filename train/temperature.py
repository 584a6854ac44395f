"""``python -m train.temperature RUN``: how a model decodes, swept on the run's
validation photos: the annealed-mean temperature of a classification head and
the chroma gain of either head.

The temperature T only changes decoding (softmax(logits / T), then the
expectation over bins): low T picks the likeliest colour (vivid, riskier),
high T approaches the mean (safer, browner). The chroma gain scales the a/b
that come out: a network trained without class rebalancing predicts the
mean colour, paler than the truth. Training already chooses both per epoch
(``evaluate_at_best_decoding``); this shows the whole sweep and can write a
choice into the checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from . import checkpoint, data, model
from .loop import CHROMA_GAINS, TEMPERATURES, evaluate_decodings, selection_score


def sweep(run: Path, temperatures=TEMPERATURES, gains=CHROMA_GAINS) -> list[dict]:
    """Validation figures of RUN/best.safetensors at each (temperature, gain)."""
    net, info = checkpoint.load(run / "best.safetensors")
    if info.params["head"]["kind"] != "classify":
        temperatures = [net.head.cfg.temperature]
    val_lab = data.validation_crops(run, info.train_size)
    decodings = [(t, g) for t in temperatures for g in gains]
    rows = evaluate_decodings(net, None, val_lab, 32, torch.device("cpu"), decodings)
    return [{"temperature": t, "chroma_gain": g, **r} for (t, g), r in zip(decodings, rows, strict=True)]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="Store the best decoding in RUN/best.safetensors.")
def main(run: Path, write: bool) -> None:
    """Print validation PSNR and colourfulness of RUN's best model per decoding."""
    rows = sweep(run)
    click.echo("T      gain  PSNR   grey   colourful  truth")
    for r in rows:
        click.echo(f"{r['temperature']:<6} {r['chroma_gain']:<5} {r['psnr']:.2f}  {r['psnr_grey']:.2f}  "
                   f"{r['colorfulness']:8.1f}  {r['colorfulness_truth']:6.1f}")
    best = max(rows, key=selection_score)
    click.echo(f"best: T = {best['temperature']}, gain = {best['chroma_gain']}")
    if write:
        net, info = checkpoint.load(run / "best.safetensors")
        net.head.cfg.temperature, net.head.cfg.chroma_gain = best["temperature"], best["chroma_gain"]
        info.params = model.config_to_dict(net.cfg)
        info.validation = {k: round(v, 4) for k, v in best.items() if k != "val_loss"}
        checkpoint.save(run / "best.safetensors", net, info, half=False)
        click.echo(f"wrote T = {best['temperature']}, gain = {best['chroma_gain']} into {run / 'best.safetensors'}")


if __name__ == "__main__":
    sys.exit(main())
