"""Teachers for distillation: trained models whose averaged colour
distributions a new network learns from, beside the true colour.

Runs of one recipe differ by their seed more than recipes differ from each
other (README, "Training"), and the average of several runs' distributions
is better than any one of them: a network trained toward that average gets
some of the ensemble's knowledge at one network's cost.

Teachers are filmcolor model files (ONNX, classification head), run by ONNX
Runtime on the CPU: their bins must be the student's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from filmcolor.decoding import softmax
from filmcolor.errors import ModelError
from filmcolor.network import Network

from .data import DataError
from .model import ab_bin_centres


class Teachers:
    """Model files whose mean bin distribution (softmax of each one's logits at
    temperature 1, averaged) is a distillation target. ``threads``: CPU threads
    each uses (None: ONNX Runtime's choice)."""

    def __init__(self, paths: Sequence[str | os.PathLike], stride: int | None = None, threads: int | None = None):
        if not paths:
            raise ValueError("teachers: expected at least one model file")
        centres = ab_bin_centres()
        self.nets = []
        for p in paths:
            try:
                net = Network(p, device="cpu", threads=threads)
            except (ModelError, ValueError) as e:
                raise DataError(f"--teacher: {e}") from None
            if net.kind != "classify" or net.ab_centres is None or net.ab_centres.shape != centres.shape \
                    or not np.allclose(net.ab_centres, centres):
                raise DataError(f"--teacher {p}: not a classification model with the student's "
                                f"{len(centres)} a/b bins")
            self.nets.append(net)
        self.paths = [str(p) for p in paths]
        if stride is not None:
            self.check_stride(stride)

    def check_stride(self, stride: int) -> None:
        """Refuse, in one line, teachers whose output grid is not the student's (its ``stride``)."""
        for p, net in zip(self.paths, self.nets, strict=True):
            if net.stride != stride:
                raise DataError(f"--teacher {p}: output stride {net.stride}, the student's is {stride}")

    def probs(self, L: torch.Tensor) -> torch.Tensor:
        """L (B, 1, H, W) float in [0, 100], H and W multiples of 32 -> the teachers'
        mean distribution over bins (B, Q, H / stride, W / stride) float32, on L's device."""
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"teachers: expected L (B, 1, H, W). Got {tuple(L.shape)}")
        x = np.ascontiguousarray(L.detach().float().cpu().numpy())
        mean = sum(softmax(net.logits(x), axis=1) for net in self.nets) / len(self.nets)  # (B, Q, h, w)
        return torch.from_numpy(mean.astype(np.float32, copy=False)).to(L.device)
