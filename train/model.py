"""Colorization networks: L in, a/b out.

Two architectures, each with a config dataclass that the checkpoint stores so
that a network can be rebuilt from the checkpoint alone:

- ``unet``: the original design, a plain U-Net (conv + max-pool encoder,
  bilinear upsampling + conv decoder, skip connections), output at full size.
- ``effunet``: a U-Net on an EfficientNet-Lite0 encoder (pretrained on ImageNet
  when training starts, see ``train/pretrained.py``); output at half size.

Both take ``(B, 1, H, W)`` network input (``color.l_to_net``), H and W
multiples of 32, and end in one of two heads:

- ``regression``: 2 channels, ``tanh``, a/b divided by ``color.AB_SCALE``;
- ``classify``: logits over quantized a/b bins (Zhang et al. 2016), decoded to
  a/b as the annealed mean (softmax at temperature T, then the expectation).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from filmcolor.decoding import SURENESS_EPS

from . import colour as color

HEADS = ("regression", "classify")


@functools.lru_cache(maxsize=2)
def ab_bin_centres(grid: int = 10) -> np.ndarray:
    """Centres of the a/b bins that sRGB colours reach, on a ``grid``-spaced lattice.

    Returns (Q, 2) float32 a/b in LAB units (Q = 261 for grid 10 on this sRGB sampling; Zhang et al. had 313).
    """
    steps = torch.linspace(0, 1, 64)
    rgb = torch.stack(torch.meshgrid(steps, steps, steps, indexing="ij")).reshape(3, 1, -1)
    ab = color.rgb_to_lab(rgb)[1:].reshape(2, -1)
    q = torch.unique(torch.round(ab / grid).long(), dim=1)
    return (q.T.float() * grid).numpy()


@dataclass
class HeadConfig:
    kind: str = "regression"
    bins: int = 0  # classify only: number of a/b bins (taken from ab_bin_centres)
    temperature: float = 0.38  # classify only: annealed-mean temperature
    # a/b are multiplied by this after decoding: the mean colour of a calibrated
    # network is paler than the truth; training chooses it on held-out photos
    chroma_gain: float = 1.0
    # classify only: a/b are also multiplied by sureness ** confidence, where
    # sureness = |E c|^2 / (E |c|^2 + 1) over the bins: near 1 when the mass sits
    # on one colour, near 0 when it is spread over opposite ones (0: not used)
    confidence: float = 0.0


class Head(nn.Module):
    """From decoder features to raw output: scaled a/b (regression) or bin logits (classify)."""

    def __init__(self, in_channels: int, cfg: HeadConfig):
        super().__init__()
        if cfg.kind not in HEADS:
            raise ValueError(f"head: expected one of {HEADS}. Got {cfg.kind!r}")
        self.cfg = cfg
        if cfg.kind == "classify":
            centres = torch.from_numpy(ab_bin_centres())
            # persistent, so a checkpoint carries the bins it was trained with
            self.register_buffer("ab_centres", centres)
            cfg.bins = len(centres)
            self.conv = nn.Conv2d(in_channels, cfg.bins, 1)
        else:
            self.conv = nn.Conv2d(in_channels, 2, 1)

    @property
    def stride(self) -> int:
        # The softmax over bins costs more than the whole encoder at full
        # decoder size; colour is smooth, so bins are scored at half that size.
        return 2 if self.cfg.kind == "classify" else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.kind == "regression":
            return torch.tanh(self.conv(x))
        return self.conv(F.avg_pool2d(x, 2))

    def bin_logits(self, out: torch.Tensor) -> torch.Tensor:
        """Classify only: raw head output (B, Q, h, w) -> tempered logits (B, h, w, Q) float32.

        Channels last: the network's output is channels-last on the CPU, where a
        softmax over dim 1 runs 5x slower than over the last axis of this view.
        """
        return out.float().permute(0, 2, 3, 1) / self.cfg.temperature

    def to_ab(self, out: torch.Tensor) -> torch.Tensor:
        """Raw head output (B, C, h, w) -> a/b (B, 2, h, w) float32 in LAB units."""
        out = out.float()
        gain = self.cfg.chroma_gain
        if self.cfg.kind == "regression":
            ab = color.net_to_ab(out)
            return ab * gain if gain != 1 else ab
        prob = torch.softmax(self.bin_logits(out), dim=-1).permute(0, 3, 1, 2)
        # the expectation over bins is a 1x1 convolution (10x faster than einsum)
        centres = self.ab_centres.float()
        if not self.cfg.confidence:
            return F.conv2d(prob, gain * centres.t()[:, :, None, None])
        rows = torch.cat([centres.t(), (centres**2).sum(1, keepdim=True).t()])[:, :, None, None]
        s = F.conv2d(prob, rows)
        return s[:, :2] * (gain * sureness(s[:, :2], s[:, 2:]) ** self.cfg.confidence)



def sureness(mean: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """|E c|^2 / (E |c|^2 + SURENESS_EPS) per pixel, in [0, 1): mean (B, 2, h, w)
    and second moment (B, 1, h, w) of the a/b distribution over bins (LAB units)."""
    return (mean**2).sum(1, keepdim=True) / (second + SURENESS_EPS)


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """x (B, C, h, w) bilinearly upsampled to (B, C, 2h, 2w), which must be ``like``'s size
    (every level halves: inputs are multiples of 32).

    By a scale, not a size: exported, the Resize then has constant scales, which
    ONNX Runtime runs in its blocked NCHWc layout without reordering around it.
    """
    # while exporting, sizes are symbolic: the check would be traced into the graph
    if not torch.jit.is_tracing() and like.shape[-2:] != (2 * x.shape[-2], 2 * x.shape[-1]):
        raise ValueError(f"decoder: expected a skip of twice {tuple(x.shape[-2:])}. Got {tuple(like.shape[-2:])}")
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class ColorNet(nn.Module):
    """Base of the networks: ``forward`` gives raw head output, ``predict_ab`` gives a/b."""

    head: Head
    decoder_stride: int = 1  # input size / decoder output size

    @property
    def stride(self) -> int:
        """Input size / output size."""
        return self.decoder_stride * self.head.stride

    def predict_ab(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, H, W) network input in [-1, 1], H, W multiples of 32.

        Returns (B, 2, H / stride, W / stride) float32 a/b in LAB units.
        """
        return self.head.to_ab(self(x))


def check_input(x: torch.Tensor) -> None:
    if torch.jit.is_tracing():  # exporting: the sizes are symbolic, the graph serves them all
        return
    color.check_image(x, 1, "network input")
    if x.shape[-1] % 32 or x.shape[-2] % 32:
        raise ValueError(f"network input: H and W must be multiples of 32. Got {tuple(x.shape)}")


# --------------------------------------------------------------------------- unet


@dataclass
class UNetConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    head: HeadConfig = field(default_factory=HeadConfig)


class UNet(ColorNet):
    """Plain U-Net: one double-conv block per level, max-pool down, bilinear up."""

    decoder_stride = 1

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.channels
        self.down = nn.ModuleList(
            nn.Sequential(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))
            for cin, cout in zip((1,) + ch[:-1], ch, strict=True)
        )
        self.up = nn.ModuleList(
            nn.Sequential(conv_bn_relu(deep + skip, skip), conv_bn_relu(skip, skip))
            for deep, skip in zip(ch[:0:-1], ch[-2::-1], strict=True)
        )
        self.head = Head(ch[0], cfg.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        skips = []
        for i, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = block(torch.cat([_up(x, skip), skip], dim=1))
        return self.head(x)


# ------------------------------------------------------------------------ effunet
# EfficientNet-Lite0, written out so that training and export need nothing but torch.
# Module names match the `efficientnet-lite-pytorch` package, so its ImageNet
# weights load by name. Lite: ReLU6, no squeeze-excitation, fixed stem.

# (repeats, kernel, stride, expand, in, out) per stage. Lite1 and Lite2 are
# deeper (and Lite2 wider) versions of Lite0; the stem stays 32 channels.
LITE_STAGES = {
    "lite0": (
        (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ),
    "lite1": (
        (1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 40), (4, 3, 2, 6, 40, 80),
        (4, 5, 1, 6, 80, 112), (5, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ),
    "lite2": (
        (1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 48), (4, 3, 2, 6, 48, 88),
        (4, 5, 1, 6, 88, 120), (5, 5, 2, 6, 120, 208), (1, 3, 1, 6, 208, 352),
    ),
}
_BN = {"momentum": 0.01, "eps": 1e-3}


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding, bias-free.

    At stride 1 'SAME' is symmetric and goes to the convolution itself; at
    stride 2 on even sizes it puts the extra pixel at the bottom/right, which
    needs an explicit pad.
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, k, stride=stride, padding=k // 2 if stride == 1 else 0, groups=groups, bias=False)
        # every size reaching a stride-2 convolution is even (inputs are multiples of 32), where
        # 'SAME' pads k - stride in all: a constant, so the exported ONNX graph serves every size
        extra = max(k - stride, 0) if stride > 1 else 0
        self.same_pad = (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.same_pad):
            x = F.pad(x, self.same_pad)
        return super().forward(x)


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand, depthwise kxk, 1x1 project (+ identity)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SameConv(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = SameConv(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class LiteEncoder(nn.Module):
    """EfficientNet-Lite0/1/2 without its head; grey input (1 channel) to the stem.

    forward: (B, 1, H, W) -> features at strides 2, 4, 8, 16, 32 (``channels``
    gives their widths: 16, 24, 40, 112, 320 for Lite0).
    """

    def __init__(self, variant: str = "lite0"):
        super().__init__()
        if variant not in LITE_STAGES:
            raise ValueError(f"encoder: expected one of {tuple(LITE_STAGES)}. Got {variant!r}")
        stages = LITE_STAGES[variant]
        self.variant = variant
        self._conv_stem = SameConv(1, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks, taps, channels, stride = [], [], [], 2
        for n, (repeats, k, s, expand, cin, cout) in enumerate(stages):
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, expand))
            stride *= s
            # a stage is tapped when the next one halves the size (or it is the last)
            if n + 1 == len(stages) or stages[n + 1][2] == 2:
                taps.append(len(blocks) - 1)
                channels.append(cout)
        self._blocks = nn.ModuleList(blocks)
        self.taps = tuple(taps)  # index of the last block of each stride
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.taps:
                feats.append(x)
        return feats


@dataclass
class EffUNetConfig:
    decoder: tuple[int, ...] = (96, 64, 48, 32)
    encoder: str = "lite0"  # lite0, lite1 or lite2 (see LITE_STAGES)
    head: HeadConfig = field(default_factory=HeadConfig)


class EffUNet(ColorNet):
    """U-Net decoder on an EfficientNet-Lite encoder; output at half the input size."""

    decoder_stride = 2

    def __init__(self, cfg: EffUNetConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = LiteEncoder(cfg.encoder)
        skips = self.encoder.channels[-2::-1]  # 112, 40, 24, 16 for Lite0
        deep = (self.encoder.channels[-1],) + tuple(cfg.decoder[:-1])
        self.decoder = nn.ModuleList(
            conv_bn_relu(d + s, out) for d, s, out in zip(deep, skips, cfg.decoder, strict=True)
        )
        self.head = Head(cfg.decoder[-1], cfg.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        *skips, x = self.encoder(x)
        for block in self.decoder:
            skip = skips.pop()
            x = block(torch.cat([_up(x, skip), skip], dim=1))
        return self.head(x)


# ---------------------------------------------------------------------- inference


def fuse_batchnorm(net: nn.Module) -> nn.Module:
    """Fold each eval-mode BatchNorm into the convolution before it (in place).

    Same outputs within float rounding, about 15% less time on the CPU. Only
    for inference: the fused network no longer trains like the original.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def pairs(module: nn.Module):
        if isinstance(module, MBConv):
            names = [("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]
        elif isinstance(module, LiteEncoder):
            names = [("_conv_stem", "_bn0")]
        elif isinstance(module, nn.Sequential) and len(module) >= 2:
            names = [(str(i), str(i + 1)) for i in range(len(module) - 1)]
        else:
            names = []
        for conv, bn in names:
            c, b = getattr(module, conv, None), getattr(module, bn, None)
            if isinstance(c, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                yield conv, bn

    net.eval()
    for module in list(net.modules()):
        for conv, bn in list(pairs(module)):
            setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, bn)))
            setattr(module, bn, nn.Identity())
    return net


# ----------------------------------------------------------------------- registry

ARCHITECTURES: dict[str, tuple[type, type]] = {
    "unet": (UNet, UNetConfig),
    "effunet": (EffUNet, EffUNetConfig),
}


def config_to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def build(arch: str, params: dict | None = None) -> ColorNet:
    """A network from its architecture name and its config as a plain dict."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    net_cls, cfg_cls = ARCHITECTURES[arch]
    params = dict(params or {})
    head = HeadConfig(**params.pop("head", {}))
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = set(params) - names
    if unknown:
        raise ValueError(f"{arch}: unknown parameters {sorted(unknown)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return net_cls(cfg_cls(head=head, **params))
