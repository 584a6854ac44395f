"""Training checkpoints: safetensors with a JSON config in the metadata
(filmcolor itself reads the ONNX file that ``python -m train.export`` makes).

A checkpoint holds the network's tensors (fp16 is fine for storage) and, under
the metadata key ``filmcolor``, a JSON object::

    {"format": 1, "arch": "effunet", "params": {...}, "train_size": 128,
     "photo_size": 192 (optional), "ab_scale": 110.0, "data": {...}, "validation": {...}}

safetensors holds tensors only, so loading a stranger's file cannot run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from filmcolor.errors import ModelError
from filmcolor.network import FORMAT, METADATA_KEY, ModelInfo

from . import colour as color
from . import model

# the bundled model's training checkpoint (filmcolor ships its ONNX export)
DEFAULT_PATH = Path(__file__).parent / "weights" / "default.safetensors"


def save(path: str | os.PathLike, net: model.ColorNet, info: ModelInfo, half: bool = True) -> None:
    """Write ``net``'s weights and ``info`` to ``path`` (via a temporary file)."""
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
        for k, v in net.state_dict().items()
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    save_file(state, str(tmp), metadata={METADATA_KEY: info.to_json()})
    os.chmod(tmp, 0o644)  # safetensors writes 0600; a model is meant to be shared
    os.replace(tmp, path)


def read_info(path: str | os.PathLike) -> ModelInfo:
    """The config stored in a checkpoint, without loading its tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"{path}: not a safetensors model file ({e})") from None
    if METADATA_KEY not in meta:
        raise ModelError(f"{path}: safetensors file without a filmcolor config")
    try:
        cfg = json.loads(meta[METADATA_KEY])
        fmt = cfg.pop("format")
        info = ModelInfo(**cfg)
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ModelError(f"{path}: malformed filmcolor config ({e})") from None
    if fmt != FORMAT:
        raise ModelError(f"{path}: checkpoint format {fmt}, this filmcolor reads {FORMAT}")
    if info.arch not in model.ARCHITECTURES:
        known = ", ".join(model.ARCHITECTURES)
        raise ModelError(f"{path}: unknown architecture {info.arch!r} (known: {known})")
    return info


def load(path: str | os.PathLike | None = None) -> tuple[model.ColorNet, ModelInfo]:
    """The network (float32, eval mode, on the CPU) and its config.

    ``path=None`` loads the bundled default model.
    """
    path = DEFAULT_PATH if path is None else Path(path)
    info = read_info(path)
    try:
        net = model.build(info.arch, info.params)
    except (ValueError, TypeError) as e:
        raise ModelError(f"{path}: cannot build {info.arch} ({e})") from None
    state = {}
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            state[key] = f.get_tensor(key)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelError(f"{path}: weights do not fit {info.arch} ({first})") from None
    if info.ab_scale != color.AB_SCALE:
        raise ModelError(f"{path}: a/b scale {info.ab_scale}, expected {color.AB_SCALE}")
    return net.eval(), info
