"""The network as an ONNX file run by ONNX Runtime, and the settings it carries.

The graph (written by ``python -m train.export``) takes ``L``: (N, 1, H, W)
float32 lightness in [0, 100], H and W multiples of 32, any N, H, W; and gives

- ``ab``: (N, 2, H, W) float32 a/b in LAB units, decoded the way the model
  was chosen (annealed mean at its temperature, chroma gain) and upsampled;
- ``raw``: the head's output at the network's stride: bin logits (N, Q, h, w)
  for a classification head, tanh-scaled a/b (N, 2, h, w) for regression; the
  reference palette (reference.py) decodes it again with a bias.

Its settings are a JSON object under the metadata key ``filmcolor``::

    {"format": 1, "arch": "effunet", "params": {...}, "train_size": 128,
     "photo_size": 192 (optional), "ab_scale": 110.0, "stride": 4, "ab_centres": [[a, b], ...] | null,
     "data": {...}, "validation": {...}}

An ONNX file is a graph of standard operators and their weights: loading a
stranger's file runs no code of theirs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import color, cpu
from .decoding import Decoding
from .errors import ModelError

FORMAT = 1
METADATA_KEY = "filmcolor"
DEFAULT_PATH = Path(__file__).parent / "weights" / "default.onnx"
# the same network quantized to int8 (python -m train.export --int8): films on the CPU
INT8_PATH = Path(__file__).parent / "weights" / "default-int8.onnx"
PRECISION_KEY = "precision"  # metadata beside the settings: "int8" in a quantized file (else float32)
GPU_INSTALL = 'pip install "filmcolor[gpu]"'

# --device name -> ONNX Runtime execution provider; "auto" takes the first one present
PROVIDERS = {
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("cuda", "coreml", "dml", "cpu")
ALIASES = {"mps": "coreml", "directml": "dml"}


class OutOfMemory(RuntimeError):
    """The device ran out of memory for this batch (a smaller one may fit)."""


@dataclass
class ModelInfo:
    """What a model file says about its network besides its weights."""

    arch: str
    params: dict
    train_size: int = 128
    # the short side photos run at by default, chosen on held-out photos (None: train_size);
    # films run at train_size, where the network costs least
    photo_size: int | None = None
    ab_scale: float = color.AB_SCALE
    data: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)

    @property
    def head(self) -> dict:
        return {"kind": "regression", "temperature": 0.38, "chroma_gain": 1.0, "confidence": 0.0,
                **self.params.get("head", {})}

    def to_json(self, **extra) -> str:
        # photo_size only when set: a file without it is read by filmcolor from before it too
        fields = {k: v for k, v in self.__dict__.items() if not (k == "photo_size" and v is None)}
        return json.dumps({"format": FORMAT, **fields, **extra}, sort_keys=True)


def parse_device(name: str) -> tuple[str, int]:
    """``--device`` as (kind, device id): 'auto', 'cpu', 'cuda', 'cuda:1', 'coreml', 'dml'."""
    kind, _, index = name.partition(":")
    kind = ALIASES.get(kind, kind)
    if kind != "auto" and kind not in PROVIDERS:
        raise ValueError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N, coreml, dml)")
    if index and not index.isdigit():
        raise ValueError(f"unknown device {name!r}: the number after ':' is the GPU's index")
    return kind, int(index or 0)


def providers_for(name: str) -> list:
    """ONNX Runtime providers for ``--device name``, the CPU always last as the fallback."""
    import onnxruntime as ort

    kind, index = parse_device(name)
    present = ort.get_available_providers()
    if kind == "auto":
        kind = next(k for k in AUTO_ORDER if PROVIDERS[k] in present)
    elif PROVIDERS[kind] not in present:
        fix = f"; for CUDA: {GPU_INSTALL}" if kind == "cuda" else ""
        raise ValueError(f"device {kind} asked for, but this ONNX Runtime has no {PROVIDERS[kind]}{fix}")
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    options = {"device_id": index} if kind in ("cuda", "dml") else {}
    return [(PROVIDERS[kind], options), "CPUExecutionProvider"]


def bundled_path(device: str = "auto", films: bool = False) -> Path:
    """The bundled model file for ``device``: for films on a CPU with int8
    dot-product instructions (cpu.fast_int8) its int8 copy (there the network in
    0.47-0.68x the time, the colour as good on the choosing half: README, "The
    bundled model"), else the float32 one. Photos always get the float32 one,
    whose figures the README gives."""
    if (films and INT8_PATH.exists() and providers_for(device)[0] == "CPUExecutionProvider"
            and cpu.fast_int8()):
        return INT8_PATH
    return DEFAULT_PATH


class Network:
    """A loaded ONNX colorization network. ``threads``: the CPU threads it uses
    (None: ONNX Runtime's choice, one per physical core)."""

    def __init__(self, path: str | os.PathLike | None = None, device: str = "auto", threads: int | None = None):
        self.path = DEFAULT_PATH if path is None else Path(path)
        try:
            self._bytes = self.path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{self.path}: no such model file") from None
        except OSError as e:
            raise ModelError(f"{self.path}: cannot read ({e.strerror})") from None
        if self.path.suffix in (".safetensors", ".pt"):
            # a run's last.pt is exported from its folder (train.export reads no .pt file itself)
            args = f"{self.path} model.onnx" if self.path.suffix == ".safetensors" else f"{self.path.parent} model.onnx --last"
            raise ModelError(f"{self.path}: a training checkpoint; make a model file of it with "
                             f"python -m train.export {args}")
        self.providers = providers_for(device)
        self.threads = threads
        self._sessions: dict = {}  # thread count -> session: a film's colour stage uses fewer
        self.session = self._session()
        self.device = next(k for k, p in PROVIDERS.items() if p == self.session.get_providers()[0])
        asked = parse_device(device)[0]
        if asked not in ("auto", "cpu") and self.device != asked:
            # the provider is installed but could not start (no GPU, missing CUDA/cuDNN libraries)
            raise ValueError(f"device {asked} asked for, but ONNX Runtime could not start it here "
                             f"(see onnxruntime's CUDA requirements; {GPU_INSTALL})")
        self.info, self.stride, centres = self._read_settings()
        self.precision = self.session.get_modelmeta().custom_metadata_map.get(PRECISION_KEY, "float32")
        head = self.info.head
        self.kind = head["kind"]
        # the decoding inside the graph; the numpy one (decoding.decode) repeats it where it is changed
        self.decoding = Decoding(float(head["temperature"]), float(head["chroma_gain"]), float(head["confidence"]))
        self.ab_centres = None if centres is None else np.asarray(centres, dtype=np.float32)

    def _session(self):
        if self.threads not in self._sessions:
            self._sessions[self.threads] = self._new_session()
        return self._sessions[self.threads]

    def _new_session(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: ORT's warnings are about its own graph rewrites
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # idle threads sleep instead of spinning: a film's encoder needs the cores between batches
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.providers[0] != "CPUExecutionProvider" and hasattr(ort, "preload_dlls"):
            # CUDA and cuDNN installed from PyPI (nvidia-* wheels) are found only once loaded
            try:
                ort.preload_dlls()
            except Exception:  # noqa: BLE001 (system-wide CUDA needs none of this)
                pass
        try:
            return ort.InferenceSession(self._bytes, opts, providers=self.providers)
        except Exception as e:  # ORT raises its own pybind classes: InvalidProtobuf, Fail, ...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"{self.path}: not an ONNX model file ({first})") from None

    def _read_settings(self) -> tuple[ModelInfo, int, list | None]:
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelError(f"{self.path}: ONNX file without a filmcolor config (python -m train.export makes one)")
        try:
            cfg = json.loads(meta[METADATA_KEY])
            fmt = cfg.pop("format")
            stride, centres = cfg.pop("stride"), cfg.pop("ab_centres")
            info = ModelInfo(**cfg)
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ModelError(f"{self.path}: malformed filmcolor config ({e})") from None
        if fmt != FORMAT:
            raise ModelError(f"{self.path}: model format {fmt}, this filmcolor reads {FORMAT}")
        if info.ab_scale != color.AB_SCALE:
            raise ModelError(f"{self.path}: a/b scale {info.ab_scale}, expected {color.AB_SCALE}")
        sizes = {"train_size": info.train_size}
        if info.photo_size is not None:  # unset: photos at train_size
            sizes["photo_size"] = info.photo_size
        for key, v in sizes.items():
            if type(v) is not int or v < 32 or v % 32:
                raise ModelError(f"{self.path}: {key} {v!r} is not a positive multiple of 32")
        inputs = [i.name for i in self.session.get_inputs()]
        names = [o.name for o in self.session.get_outputs()]
        if names != ["ab", "raw"] or inputs != ["L"]:
            raise ModelError(f"{self.path}: expected input L and outputs ab, raw. Got {inputs} and {names}")
        return info, int(stride), centres

    def set_threads(self, threads: int | None) -> None:
        """Use ``threads`` CPU threads from now on (a new session the first time: about 0.2 s)."""
        if threads != self.threads:
            self.threads = threads
            self.session = self._session()

    def run(self, L: np.ndarray, raw: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """The graph on L (N, 1, H, W) float32 in [0, 100], H, W multiples of 32.

        Returns ``ab`` (N, 2, H, W) float32 and, if ``raw``, the head's output
        (else None). Raises :class:`OutOfMemory` when the device runs out.
        """
        names = ["ab", "raw"] if raw else ["ab"]
        try:
            out = self.session.run(names, {"L": np.ascontiguousarray(L, dtype=np.float32)})
        except Exception as e:
            text = str(e).lower()
            if any(s in text for s in ("out of memory", "failed to allocate", "alloc_failed", "memoryallocation")):
                raise OutOfMemory(str(e).strip().splitlines()[0]) from None
            raise
        return out[0], (out[1] if raw else None)

    def logits(self, L: np.ndarray) -> np.ndarray:
        """The head's raw output alone for L (N, 1, H, W) float32 in [0, 100], H, W
        multiples of 32: (N, Q, H / stride, W / stride) float32 (the decoding and the
        upsampling to full size are not run)."""
        return self.session.run(["raw"], {"L": np.ascontiguousarray(L, dtype=np.float32)})[0]
