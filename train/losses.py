"""Losses on the network's raw output against the true a/b.

- ``mse``: mean squared error on scaled a/b (the original design). Averages
  plausible colours into brown-grey: good PSNR, washed-out pictures.
- ``classify``: cross-entropy over quantized a/b bins with soft targets and
  class rebalancing (Zhang, Isola & Efros 2016), decoded at inference as the
  annealed mean. Rare, saturated colours weigh more, so they survive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import colour as color
from .model import ab_bin_centres


def target_at(ab: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """True a/b (B, 2, H, W) averaged down to the output's size (B, 2, h, w)."""
    if ab.shape[-2:] == out.shape[-2:]:
        return ab
    return F.adaptive_avg_pool2d(ab, out.shape[-2:])


class MSELoss(torch.nn.Module):
    head = "regression"

    def forward(self, out: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out.float(), color.ab_to_net(target_at(ab, out)))


def soft_encode(ab: torch.Tensor, centres: torch.Tensor, k: int = 5, sigma: float = 5.0):
    """Soft bin targets: each pixel spread over its k nearest bins with a Gaussian.

    ab: (B, 2, h, w); centres: (Q, 2). Returns (indices (B, k, h, w) long,
    weights (B, k, h, w) float summing to 1 over k).
    """
    b, _, h, w = ab.shape
    pix = ab.permute(0, 2, 3, 1).reshape(-1, 2)  # (N, 2)
    d2 = torch.cdist(pix, centres) ** 2  # (N, Q)
    dist, idx = d2.topk(k, dim=1, largest=False)
    wts = torch.softmax(-dist / (2 * sigma**2), dim=1)
    return (
        idx.reshape(b, h, w, k).permute(0, 3, 1, 2),
        wts.reshape(b, h, w, k).permute(0, 3, 1, 2),
    )


def rebalance_weights(prior: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """Per-bin weights from the empirical bin distribution ``prior`` (Q,), summing to 1:
    w proportional to 1 / ((1 - lam) * prior + lam / Q), scaled so E_prior[w] = 1."""
    q = len(prior)
    w = 1.0 / ((1 - lam) * prior + lam / q)
    return w / (prior * w).sum()


class ClassifyLoss(torch.nn.Module):
    head = "classify"

    def __init__(self, prior: torch.Tensor | None = None, lam: float = 0.5):
        super().__init__()
        centres = torch.from_numpy(ab_bin_centres())
        self.register_buffer("centres", centres)
        if prior is None:
            prior = torch.full((len(centres),), 1.0 / len(centres))
        self.register_buffer("weights", rebalance_weights(prior.float(), lam))

    def forward(self, out: torch.Tensor, ab: torch.Tensor, teacher: torch.Tensor | None = None,
                teacher_weight: float = 0.0) -> torch.Tensor:
        """Cross-entropy of the logits ``out`` (B, Q, h, w) against the soft bins of
        the true ``ab`` (B, 2, H, W) float in LAB units; with ``teacher`` (B, Q, h, w)
        probabilities (summing to 1 over Q), against ``teacher_weight`` (0..1) of
        those plus 1 - ``teacher_weight`` of the truth's. Rebalancing weighs each
        pixel by its true colour's bin, the teacher's part too (no effect at lam 1)."""
        idx, wts = soft_encode(target_at(ab, out).float(), self.centres)
        logp = F.log_softmax(out.float(), dim=1)  # (B, Q, h, w)
        ce = -(logp.gather(1, idx) * wts).sum(1)  # (B, h, w)
        if teacher is not None and teacher_weight:
            if teacher.shape != logp.shape:
                raise ValueError(f"teacher: expected {tuple(logp.shape)}. Got {tuple(teacher.shape)}")
            ce = (1 - teacher_weight) * ce - teacher_weight * (teacher.float() * logp).sum(1)
        pixel_w = self.weights[idx[:, 0]]  # weight of the nearest bin
        return (ce * pixel_w).mean()


def bin_prior(ab_batches, sigma: float = 5.0) -> torch.Tensor:
    """Empirical distribution (Q,) of nearest a/b bins over an iterable of (B, 2, H, W)
    batches, smoothed over neighbouring bins with a Gaussian of ``sigma`` LAB units."""
    centres = torch.from_numpy(ab_bin_centres())
    counts = torch.zeros(len(centres), dtype=torch.float64)
    for ab in ab_batches:
        pix = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
        nearest = torch.cdist(pix, centres).argmin(1)
        counts += torch.bincount(nearest, minlength=len(centres)).double()
    p = counts / counts.sum().clamp_min(1)
    kernel = torch.exp(-torch.cdist(centres, centres).double() ** 2 / (2 * sigma**2))
    p = kernel @ p
    return (p / p.sum()).float()


LOSSES = {"mse": MSELoss, "classify": ClassifyLoss}
