"""Pictures of a run: a grey | predicted | truth grid, and the loss curves."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch

from . import colour as color


def save_grid(path: Path, lab: torch.Tensor, pred_rgb: torch.Tensor) -> None:
    """One row per image: grey | predicted | truth.

    lab: (N, 3, S, S) float LAB; pred_rgb: (N, 3, S, S) float sRGB in [0, 1].
    """
    truth = color.lab_to_rgb(lab)
    grey = color.lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))
    rows = torch.cat([grey, pred_rgb, truth], dim=-1)  # (N, 3, S, 3S)
    img = torch.cat(list(rows), dim=-2)  # (3, N*S, 3S)
    img = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def save_curves(log_csv: Path, path: Path) -> None:
    """Training and validation loss, PSNR and colourfulness per epoch, from log.csv."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with log_csv.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    col = {k: [float(r[k]) if r[k] else float("nan") for r in rows] for k in rows[0]}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(col["epoch"], col["train_loss"], label="train")
    axes[0].plot(col["epoch"], col["val_loss"], label="validation")
    axes[0].set_title("loss")
    axes[1].plot(col["epoch"], col["psnr"], label="predicted")
    axes[1].plot(col["epoch"], col["psnr_grey"], "--", label="grey baseline")
    axes[1].set_title("PSNR (dB)")
    axes[2].plot(col["epoch"], col["colorfulness"], label="predicted")
    axes[2].plot(col["epoch"], col["colorfulness_truth"], "--", label="truth")
    axes[2].set_title("colourfulness")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
