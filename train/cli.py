"""``python -m train``: train a colorization network on folders of colour photos."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import data, losses, model
from .loop import TrainConfig, fit

D = TrainConfig()


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--data", "data_dirs", multiple=True, required=True, type=click.Path(),
              help="Folder of colour photos, searched recursively (repeatable).")
@click.option("--val-data", "val_dirs", multiple=True, type=click.Path(),
              help="Folder held out whole for validation (repeatable; removed from --data where "
                   "inside it). Without it, --val-fraction of the photos by file.")
@click.option("--hold-out", "hold_dirs", multiple=True, type=click.Path(),
              help="Folder kept out of training and of choosing (repeatable): sources to report on.")
@click.option("--out", default=D.out, help="Run folder: logs, checkpoints, pictures.")
@click.option("--arch", type=click.Choice(list(model.ARCHITECTURES)), default=D.arch)
@click.option("--encoder", type=click.Choice(list(model.LITE_STAGES)), default=D.encoder,
              help="effunet: which EfficientNet-Lite encoder.")
@click.option("--loss", type=click.Choice(list(losses.LOSSES)), default=D.loss)
@click.option("--rebalance", default=D.rebalance,
              help="classify: class rebalancing lambda (0.5 as Zhang et al.; 1 = none).")
@click.option("--balance", default=D.balance,
              help="Sources (first sub-folders of --data) are drawn in proportion to their "
                   "photo count ** this: 1 = every photo alike, 0 = every source alike.")
@click.option("--pretrained/--no-pretrained", default=D.pretrained,
              help="Start the effunet encoder from ImageNet weights.")
@click.option("--encoder-lr", default=D.encoder_lr,
              help="effunet: the encoder learns at --lr times this (0: frozen, BatchNorm included).")
@click.option("--freeze-bn/--no-freeze-bn", default=D.freeze_bn,
              help="effunet: the encoder's BatchNorm keeps its ImageNet statistics.")
@click.option("--decoder", default=",".join(map(str, D.decoder)),
              help="effunet: decoder widths, deep to shallow.")
@click.option("--size", default=D.size, help="Training crop size (multiple of 32).")
@click.option("--data-fraction", default=D.data_fraction,
              help="Train on this share of each source's photos (for a learning curve).")
@click.option("--epoch-size", default=D.epoch_size,
              help="Crops drawn an epoch (0: as many as there are training photos); a learning curve "
                   "keeps it equal so smaller sets get as many steps.")
@click.option("--epochs", default=D.epochs)
@click.option("--batch-size", default=D.batch_size)
@click.option("--lr", default=D.lr)
@click.option("--val-fraction", default=D.val_fraction)
@click.option("--seed", default=D.seed)
@click.option("--workers", default=D.workers, help="Data-loading processes.")
@click.option("--cache/--no-cache", default=D.cache, help="Keep decoded photos in memory.")
@click.option("--device", default=D.device, help="auto, cpu, cuda, cuda:1, ...")
@click.option("--threads", default=D.threads, help="Torch CPU threads (0: torch's default).")
@click.option("--max-steps", default=D.max_steps, help="Steps per epoch at most (0: all).")
@click.option("--teacher", "teachers", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Distil: a model file (.onnx, classification) whose colour distribution is also a "
                   "target (repeatable; their mean is taken).")
@click.option("--teacher-weight", default=D.teacher_weight,
              help="With --teacher: the teachers' share of the target (the truth's: 1 - this).")
@click.option("--init", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Start from this checkpoint's weights (.safetensors of the same network).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last epoch.")
@click.option("-q", "--quiet", is_flag=True)
def main(data_dirs, val_dirs, hold_dirs, out, arch, encoder, loss, rebalance, balance, pretrained, encoder_lr,
         freeze_bn, decoder, size, data_fraction, epoch_size, epochs, batch_size, lr, val_fraction,
         seed, workers, cache, device, threads, max_steps, teachers, teacher_weight, init, resume, quiet) -> None:
    """Train a network; the run's best.safetensors is ready for `filmcolor --model`
    (`python -m train.export RUN OUT` writes the compact shipped form)."""
    if size % 32:
        raise click.BadParameter("must be a multiple of 32", param_hint="--size")
    try:
        widths = tuple(int(w) for w in decoder.split(","))
    except ValueError:
        widths = ()
    if len(widths) != len(D.decoder) or min(widths) < 1:
        raise click.BadParameter(f"expected {len(D.decoder)} positive widths like {','.join(map(str, D.decoder))}",
                                 param_hint="--decoder")
    if encoder_lr < 0:
        raise click.BadParameter("must be 0 (frozen) or more", param_hint="--encoder-lr")
    cfg = TrainConfig(
        data=list(data_dirs), val_data=list(val_dirs), hold_out=list(hold_dirs), out=out, arch=arch, encoder=encoder, loss=loss,
        rebalance=rebalance, balance=balance, pretrained=pretrained, encoder_lr=encoder_lr,
        freeze_bn=freeze_bn, decoder=widths, size=size, data_fraction=data_fraction, epoch_size=epoch_size,
        epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction, seed=seed,
        workers=workers, cache=cache, device=device, threads=threads, max_steps=max_steps,
        teachers=list(teachers), teacher_weight=teacher_weight, init=init or "",
    )
    try:
        fit(cfg, resume=resume, progress=not quiet)
        if not quiet:
            click.echo(f"best epoch: {Path(out) / 'best.safetensors'} (final: {Path(out) / 'last.pt'}); for filmcolor: "
                       f"python -m train.export {out} {Path(out) / 'model.onnx'}, then --model {Path(out) / 'model.onnx'}")
    except data.DataError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted; continue with --resume", err=True)
        sys.exit(130)
