"""The training loop: one ``train_step`` a test can call, ``evaluate``, and ``fit``.

AMP and DDP are set up once as things that do nothing when switched off, so
the loop itself never branches on the device.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from filmcolor import metrics
from filmcolor.errors import ModelError

from . import checkpoint, data, losses, model, plots
from . import colour as color
from .pretrained import load_lite
from .teachers import Teachers

LOG_FIELDS = [
    "epoch", "train_loss", "val_loss", "psnr", "psnr_grey", "colorfulness",
    "colorfulness_truth", "temperature", "chroma_gain", "lr", "samples_per_s", "seconds",
]


@dataclass
class TrainConfig:
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)  # held-out folders; empty: a split by file
    # held out of training and of choosing: sources kept for reporting only
    hold_out: list[str] = field(default_factory=list)
    out: str = "runs/default"
    arch: str = "effunet"
    # the bundled model's recipe (README, "Training"): Lite2 beat Lite0 by 0.4-0.6 dB on
    # held-out sources; Zhang's rebalancing (0.5) was worse than grey there and was stopped
    encoder: str = "lite2"  # effunet only: lite0, lite1, lite2
    loss: str = "classify"
    rebalance: float = 1.0  # classify: lambda of the class rebalancing (1 = none)
    balance: float = 0.5  # sources drawn in proportion to photos ** balance (1 = by photo)
    pretrained: bool = True
    # the encoder's learning rate is lr * encoder_lr (0: frozen); its BatchNorm
    # statistics stay ImageNet's with freeze_bn (always when frozen)
    encoder_lr: float = 1.0
    freeze_bn: bool = False
    decoder: tuple[int, ...] = (96, 64, 48, 32)  # effunet decoder widths, deep to shallow
    size: int = 128
    data_fraction: float = 1.0  # train on this share of each source's photos (learning curves)
    epoch_size: int = 0  # crops drawn an epoch; 0: as many as there are training photos
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    val_fraction: float = 0.1
    seed: int = 0
    workers: int = 1
    cache: bool = True
    device: str = "auto"
    max_steps: int = 0  # per epoch; 0 = the whole epoch (tests use a few)
    threads: int = 0  # torch CPU threads; 0 = torch's default
    # distillation: model files whose mean colour distribution is also a target
    # (classify only), weighed teacher_weight against the truth's 1 - teacher_weight
    teachers: list[str] = field(default_factory=list)
    teacher_weight: float = 0.5
    init: str = ""  # a checkpoint (.safetensors) of the same network to start from


# ----------------------------------------------------------------- set-up helpers


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def setup_distributed(device: torch.device) -> Dist:
    """Join the process group when started by torchrun (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return Dist(dist.get_rank(), world)


def amp_context(device: torch.device):
    """(autocast context, GradScaler): bf16/fp16 on CUDA, nothing on the CPU."""
    if device.type != "cuda":
        return contextlib.nullcontext(), torch.amp.GradScaler("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return (
        torch.autocast("cuda", dtype=dtype),
        torch.amp.GradScaler("cuda", enabled=dtype == torch.float16),
    )


def build_network(cfg: TrainConfig) -> model.ColorNet:
    head = losses.LOSSES[cfg.loss].head
    params: dict = {"head": {"kind": head}}
    if cfg.arch == "effunet":
        params["encoder"] = cfg.encoder
        params["decoder"] = list(cfg.decoder)
    net = model.build(cfg.arch, params)
    if cfg.pretrained and cfg.arch == "effunet":
        load_lite(net.encoder)
    return net


def _encoder(net) -> torch.nn.Module | None:
    """The encoder of an effunet (also inside DDP's wrapper); None for others."""
    return getattr(getattr(net, "module", net), "encoder", None)


def param_groups(net, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: the encoder at ``lr * encoder_lr``, the rest at ``lr``. A
    frozen encoder (``encoder_lr`` 0) takes no gradients at all, so backward
    stops at the decoder."""
    encoder = _encoder(net)
    if encoder is None or cfg.encoder_lr == 1.0:
        return [{"params": list(net.parameters()), "lr": cfg.lr}]
    own = {id(p) for p in encoder.parameters()}
    rest = [p for p in net.parameters() if id(p) not in own]
    if cfg.encoder_lr == 0:
        encoder.requires_grad_(False)
        return [{"params": rest, "lr": cfg.lr}]
    return [{"params": rest, "lr": cfg.lr}, {"params": list(encoder.parameters()), "lr": cfg.lr * cfg.encoder_lr}]


def freezes_bn(cfg: TrainConfig) -> bool:
    """Whether the encoder's BatchNorm keeps its statistics (asked, or the encoder frozen)."""
    return cfg.freeze_bn or cfg.encoder_lr == 0


def train_mode(net, freeze_bn: bool = False) -> None:
    """``net.train()``, but with ``freeze_bn`` the encoder's BatchNorm layers keep
    normalising by their ImageNet statistics instead of the batch's."""
    net.train()
    encoder = _encoder(net)
    if freeze_bn and encoder is not None:
        for m in encoder.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()


def cosine_with_warmup(total: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return factor


# ------------------------------------------------------------------- step & eval


def train_step(net, loss_fn, lab: torch.Tensor, optimizer, scaler, autocast, freeze_bn: bool = False,
               teachers: Teachers | None = None, teacher_weight: float = 0.0) -> float:
    """One optimisation step on a batch of LAB crops (B, 3, S, S); returns the loss.
    With ``teachers``, their mean distribution is ``teacher_weight`` of the target."""
    train_mode(net, freeze_bn)
    x = color.l_to_net(lab[:, :1])
    with autocast:
        out = net(x)
    if teachers is None:
        loss = loss_fn(out.float(), lab[:, 1:])
    else:
        loss = loss_fn(out.float(), lab[:, 1:], teachers.probs(lab[:, :1]), teacher_weight)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


@torch.no_grad()
def predict_rgb(net: model.ColorNet, lab: torch.Tensor) -> torch.Tensor:
    """Colorize LAB crops from their L alone: (B, 3, S, S) -> sRGB (B, 3, S, S) in [0, 1]."""
    return _rgb_from_output(net, net(color.l_to_net(lab[:, :1])), lab[:, :1])


def _rgb_from_output(net: model.ColorNet, out: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    ab = F.interpolate(net.head.to_ab(out), size=L.shape[-2:], mode="bilinear", align_corners=False)
    return color.lab_to_rgb_clamped(L, ab)


@torch.no_grad()
def evaluate(net, loss_fn, val_lab: torch.Tensor, batch_size: int, device) -> dict:
    """Validation figures over LAB crops (N, 3, S, S): loss (unless ``loss_fn`` is
    None), PSNR and colourfulness of the prediction, of the truth, and of the grey
    baseline (a = b = 0)."""
    cfg = net.head.cfg
    return evaluate_decodings(net, loss_fn, val_lab, batch_size, device, [(cfg.temperature, cfg.chroma_gain)])[0]


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()


@torch.no_grad()
def evaluate_decodings(net, loss_fn, val_lab: torch.Tensor, batch_size: int, device,
                       decodings: list[tuple[float, float]]) -> list[dict]:
    """``evaluate`` once per (temperature, chroma gain) of ``decodings``; the
    network runs once. The head is left as it was."""
    net.eval()
    n = len(val_lab)
    batches, fixed = [], {"val_loss": 0.0, "psnr_grey": 0.0, "colorfulness_truth": 0.0}
    for i in range(0, n, batch_size):
        lab = val_lab[i : i + batch_size].to(device)
        out = net(color.l_to_net(lab[:, :1]))
        if loss_fn is not None:
            fixed["val_loss"] += loss_fn(out.float(), lab[:, 1:]).item() * len(lab)
        truth = color.lab_to_rgb(lab)
        batches.append((lab[:, :1], truth, out))
        grey = color.lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))
        fixed["psnr_grey"] += metrics.psnr(_np(grey), _np(truth)).sum()
        fixed["colorfulness_truth"] += metrics.colorfulness(_np(truth)).sum()
    cfg, kept = net.head.cfg, (net.head.cfg.temperature, net.head.cfg.chroma_gain)
    rows = []
    for temperature, gain in decodings:
        cfg.temperature, cfg.chroma_gain = temperature, gain
        psnr = colorful = 0.0
        for L, truth, out in batches:
            pred = _rgb_from_output(net, out, L)
            psnr += metrics.psnr(_np(pred), _np(truth)).sum()
            colorful += metrics.colorfulness(_np(pred)).sum()
        rows.append({**{k: v / n for k, v in fixed.items()}, "psnr": psnr / n, "colorfulness": colorful / n})
    cfg.temperature, cfg.chroma_gain = kept
    return rows


TEMPERATURES = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)
CHROMA_GAINS = (1.0, 1.1, 1.2, 1.3, 1.45, 1.6)


def evaluate_at_best_decoding(net, loss_fn, val_lab: torch.Tensor, batch_size: int, device,
                              temperatures=TEMPERATURES, gains=CHROMA_GAINS) -> dict:
    """``evaluate`` at each decoding (annealed-mean temperature for a
    classification head, times each chroma gain), leaving the head at the best
    by ``selection_score``: epochs are compared at their best decoding, not at
    one fixed one (a calibrated network is pale at T 0.38 in early epochs).
    The figures include ``temperature`` (None for a regression head) and
    ``chroma_gain``."""
    classify = net.head.cfg.kind == "classify"
    decodings = [(t, g) for t in (temperatures if classify else [net.head.cfg.temperature]) for g in gains]
    rows = evaluate_decodings(net, loss_fn, val_lab, batch_size, device, decodings)
    i = max(range(len(rows)), key=lambda j: selection_score(rows[j]))
    net.head.cfg.temperature, net.head.cfg.chroma_gain = decodings[i]
    return {**rows[i], "temperature": decodings[i][0] if classify else None, "chroma_gain": decodings[i][1]}


def selection_score(m: dict) -> tuple:
    """Which epoch is best: the highest PSNR among those whose colourfulness reaches
    60% of the truth's; while none does, the most colourful."""
    ratio = m["colorfulness"] / max(m["colorfulness_truth"], 1e-6)
    return (1, m["psnr"]) if ratio >= 0.6 else (0, ratio)


# ------------------------------------------------------------------------- fit


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def portable_folders(folders: list[str], among: list[str]) -> list[str]:
    """``folders`` relative to the common parent of ``among`` (all the data
    folders of a run), so a checkpoint does not carry the trainer's paths:
    /home/me/data/open-photos -> open-photos."""
    if not folders:
        return []
    full = [os.path.abspath(f) for f in among]
    base = os.path.commonpath(full)
    if base in full:
        base = os.path.dirname(base)
    return [os.path.relpath(os.path.abspath(f), base) for f in folders]


def _model_info(cfg: TrainConfig, net, train_ds, figures: dict) -> checkpoint.ModelInfo:
    return checkpoint.ModelInfo(
        arch=cfg.arch,
        params=model.config_to_dict(net.cfg),
        train_size=cfg.size,
        data={
            "folders": portable_folders(cfg.data, cfg.data + cfg.val_data),
            "validation_folders": portable_folders(cfg.val_data, cfg.data + cfg.val_data),
            "held_out_folders": portable_folders(cfg.hold_out, cfg.data + cfg.val_data + cfg.hold_out),
            **train_ds.summary(), "loss": cfg.loss,
            "pretrained": cfg.pretrained, "balance": cfg.balance, "rebalance": cfg.rebalance,
            "encoder_lr": cfg.encoder_lr, "freeze_bn": freezes_bn(cfg), "data_fraction": cfg.data_fraction,
            # a file's folder and name: runs' model files are all called model.onnx
            **({"teachers": [_short(t) for t in cfg.teachers], "teacher_weight": cfg.teacher_weight}
               if cfg.teachers else {}),
            **({"init": _short(cfg.init)} if cfg.init else {}),
        },
        validation={k: round(v, 4) for k, v in figures.items() if v is not None},
    )


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> tuple[model.ColorNet, dict]:
    """Train as ``cfg`` says; returns the network as it ends and the best epoch's
    validation figures.

    Writes into ``cfg.out``: config.json, split.json, log.csv, last.pt (resume
    state), best.safetensors (shipped format), grid_NNN.png, curves.png.
    """
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ddp = setup_distributed(device)
    if device.type == "cuda" and ddp.world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    out = Path(cfg.out)
    state_path = out / "last.pt"
    if resume:
        _check_resumable(out / "config.json", cfg)
    teachers = _check_distillation(cfg)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    _seed_everything(cfg.seed)

    split_path = out / "split.json"
    if resume and split_path.exists():
        train_files, val_files = data.read_split(split_path)
    else:
        files = data.find_images(cfg.data)
        if cfg.hold_out:
            # neither trained on nor chosen by, even where a held-out folder lies inside a --val-data one
            files = data.outside(files, cfg.hold_out, "--hold-out")
        if cfg.val_data:
            train_files, val_files = data.holdout(files, cfg.val_data)
            val_files = data.outside(val_files, cfg.hold_out, "--hold-out") if cfg.hold_out else val_files
        else:
            train_files, val_files = data.split_files(files, cfg.val_fraction, cfg.seed)
        train_files = data.subsample(train_files, cfg.data, cfg.data_fraction, cfg.seed)
        if ddp.main:
            data.write_split(split_path, train_files, val_files)
    dcfg = data.DataConfig(size=cfg.size, cache=cfg.cache)
    train_ds = data.PhotoDataset(train_files, dcfg, train=True, seed=cfg.seed)
    val_ds = data.PhotoDataset(val_files, dcfg, train=False)
    weights, shares = data.source_weights(train_ds.files, cfg.data, cfg.balance)
    train_ds.draw_backgrounds_by(weights)
    sampler = data.BalancedSampler(weights, cfg.epoch_size or len(train_ds), cfg.seed, ddp.rank, ddp.world)
    val_lab = torch.stack([val_ds[i] for i in range(len(val_ds))])
    if ddp.main and progress:
        print(
            f"data: {len(train_ds)} training, {len(val_ds)} validation images "
            f"({len(train_ds.skipped) + len(val_ds.skipped)} skipped: unreadable or grey); largest "
            "sources: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1])[:3])
        )

    # from --init, the ImageNet weights would only be overwritten
    net = build_network(dataclasses.replace(cfg, pretrained=cfg.pretrained and not cfg.init))
    if cfg.init and not (resume and state_path.exists()):
        _load_init(net, cfg.init)
    if teachers is not None:
        teachers.check_stride(net.stride)
    net = net.to(device).to(memory_format=torch.channels_last)
    loss_fn = _make_loss(cfg, train_ds, sampler, out, ddp).to(device)
    loader = DataLoader(
        train_ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
    )
    steps_per_epoch = min(len(loader), cfg.max_steps) if cfg.max_steps else len(loader)
    if steps_per_epoch == 0:
        raise data.DataError(f"{len(train_ds)} training images: fewer than one batch of {cfg.batch_size}; "
                             f"give --batch-size {max(1, len(train_ds))} or fewer, or more photos")
    # param_groups also freezes the encoder (requires_grad off) when encoder_lr is 0
    optimizer = torch.optim.AdamW(param_groups(net, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(cfg.epochs * steps_per_epoch, cfg.warmup_steps)
    )
    autocast, scaler = amp_context(device)
    start_epoch, best, best_figures = 0, None, {}
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch = state["epoch"]
        best_figures = json.loads(state["best_figures"])
        best = selection_score(best_figures) if best_figures else None
        if ddp.main and progress:
            print(f"resuming after epoch {start_epoch}")
    train_net = torch.nn.parallel.DistributedDataParallel(net) if ddp.world > 1 else net

    for epoch in range(start_epoch, cfg.epochs):
        train_ds.epoch = epoch
        sampler.set_epoch(epoch)
        t0, total, seen = time.perf_counter(), 0.0, 0
        bar = tqdm(
            total=steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="step",
            disable=not (progress and ddp.main), leave=False,
        )
        for step, lab in enumerate(loader):
            if step >= steps_per_epoch:
                break
            lab = lab.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            loss = train_step(train_net, loss_fn, lab, optimizer, scaler, autocast, freezes_bn(cfg),
                              teachers, cfg.teacher_weight)
            scheduler.step()
            total += loss
            seen += len(lab) * ddp.world
            bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{seen / (time.perf_counter() - t0):.1f}")
            bar.update()
        bar.close()
        seconds = time.perf_counter() - t0
        if ddp.main:
            figures = evaluate_at_best_decoding(net, loss_fn, val_lab, cfg.batch_size, device)
            row = {
                "epoch": epoch + 1, "train_loss": total / steps_per_epoch, **figures,
                "lr": scheduler.get_last_lr()[0], "samples_per_s": seen / seconds, "seconds": seconds,
            }
            _append_log(out / "log.csv", row)
            show = val_lab[torch.linspace(0, len(val_lab) - 1, min(8, len(val_lab))).long()]
            plots.save_grid(out / f"grid_{epoch + 1:03d}.png", show, predict_rgb(net, show.to(device)).cpu())
            score = selection_score(figures)
            if best is None or score > best:
                best, best_figures = score, figures
                checkpoint.save(out / "best.safetensors", net, _model_info(cfg, net, train_ds, figures), half=False)
            torch.save(
                {
                    "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                    "epoch": epoch + 1, "best_figures": json.dumps(best_figures),
                },
                str(state_path) + ".part",
            )
            os.replace(str(state_path) + ".part", state_path)
            if progress:
                print(
                    f"epoch {epoch + 1}: loss {row['train_loss']:.4f} val {figures['val_loss']:.4f} "
                    f"PSNR {figures['psnr']:.2f} (grey {figures['psnr_grey']:.2f}) colourfulness "
                    f"{figures['colorfulness']:.1f}/{figures['colorfulness_truth']:.1f}"
                    + (f" at T {figures['temperature']}" if figures["temperature"] else "")
                    + f" x{figures['chroma_gain']}"
                    + f" {row['samples_per_s']:.1f} samples/s"
                )
        ddp.barrier()
    if ddp.main:
        plots.save_curves(out / "log.csv", out / "curves.png")
    if ddp.world > 1:
        dist.destroy_process_group()
    return net, best_figures


# what --resume cannot change: the network's shape and which of its parameters learn
RESUME_FIXED = ("arch", "encoder", "decoder", "loss", "encoder_lr", "teachers", "teacher_weight")


def _short(path: str) -> str:
    """A file as its folder and name (runs/a/model.onnx -> a/model.onnx): no trainer's paths in a checkpoint."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def _check_distillation(cfg: TrainConfig) -> Teachers | None:
    """The teachers (None without), and the --init checkpoint's config read: bad
    files or flags are refused in one line before any data is read."""
    if not 0 <= cfg.teacher_weight <= 1:
        raise data.DataError(f"--teacher-weight: expected 0..1. Got {cfg.teacher_weight}")
    if cfg.init:
        try:
            checkpoint.read_info(cfg.init)
        except ModelError as e:
            raise data.DataError(f"--init: {e}") from None
    if not cfg.teachers:
        return None
    if cfg.loss != "classify":
        raise data.DataError("--teacher: distillation needs --loss classify")
    # each rank of a torchrun shares the cores: the teachers get the threads torch was given
    return Teachers(cfg.teachers, threads=cfg.threads or None)


def _load_init(net: model.ColorNet, path: str) -> None:
    """Start ``net`` from the weights of the checkpoint at ``path`` (same network), in one line if they do not fit."""
    try:
        start, info = checkpoint.load(path)
    except ModelError as e:
        raise data.DataError(f"--init: {e}") from None

    def shape(params: dict) -> dict:  # what the weights depend on: not the head's decoding
        params = json.loads(json.dumps(params))  # tuples as lists, as a checkpoint holds them
        return {**{k: v for k, v in params.items() if k != "head"}, "head": params.get("head", {}).get("kind")}

    have, want = shape(model.config_to_dict(start.cfg)), shape(model.config_to_dict(net.cfg))
    if type(start) is not type(net) or have != want:
        raise data.DataError(f"--init {path}: a {info.arch} {have}, not the network asked for "
                             f"({want}); give its --arch, --encoder, --decoder and --loss")
    net.load_state_dict(start.state_dict())


def _check_resumable(path: Path, cfg: TrainConfig) -> None:
    """Refuse, in one line, a --resume whose network or optimiser would not load
    the saved state (a raw torch error otherwise)."""
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    now = dataclasses.asdict(cfg)
    changed = [k for k in RESUME_FIXED if k in saved and saved[k] != (list(now[k]) if isinstance(now[k], tuple)
                                                                      else now[k])]
    if changed:
        flag = {"teachers": "teacher"}  # the option is named once per file
        was = ", ".join(f"--{flag.get(k, k).replace('_', '-')} {saved[k]}" for k in changed)
        raise data.DataError(f"--resume: the run in {path.parent} was started with {was}; give the same, "
                             "or a new --out")


def _make_loss(cfg: TrainConfig, train_ds, sampler, out: Path, ddp: Dist) -> torch.nn.Module:
    if cfg.loss != "classify":
        return losses.LOSSES[cfg.loss]()
    # The prior is that of what the network sees: epoch 0's balanced draw.
    # Every rank computes the same prior from the same seeded crops, so no
    # exchange is needed, and a resumed run gets the prior it started with.
    order = list(enumerate(sampler.draw()))
    batches = (
        torch.stack([train_ds[(j, k)] for k, j in order[i : i + 64]])[:, 1:] for i in range(0, len(order), 64)
    )
    prior = losses.bin_prior(batches)
    if ddp.main:
        (out / "prior.json").write_text(json.dumps(prior.tolist()))
    return losses.ClassifyLoss(prior, cfg.rebalance)


def _append_log(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, LOG_FIELDS)
        if new:
            w.writeheader()
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
