"""An int8 copy of a model file for the CPU: ONNX Runtime's static quantization.

``python -m train.export SOURCE OUT.onnx --int8 --calibrate DIR`` writes one.
Every convolution of the network, its activations (ReLU6), skips, joins and
upsamplings go to int8 (QDQ format, weights per channel, activations uint8
with ranges measured on calibration photos); the stem (one input channel,
where int8 is slower than float on the CPU) and the head with its decoding
(bin logits, softmax, the annealed mean, the upsampling of a/b) stay float32,
so the colour is decoded as in the float model. The bundled network then
costs 0.55-0.57x the float one's time on one thread (`benchmarks/networks.py
--int8`; README, "The bundled model" for its colour).

Calibration photos should be training photos: the ranges are a fit, and
photos that choose or report a model must not shape it.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from filmcolor.colorizer import lightness, shrink, small_shape
from filmcolor.errors import InputError, ModelError
from filmcolor.images import read_picture
from filmcolor.network import METADATA_KEY, PRECISION_KEY

from .data import find_images, outside

if TYPE_CHECKING:
    import onnx

# every op between the stem and the head; the rest stays float32
QUANTIZED_OPS = ["Conv", "Clip", "Relu", "Add", "Concat", "Resize"]
CALIBRATION_PHOTOS = 64
# weights in 7 bits: x86 CPUs without VNNI add pairs of uint8 x int8 products in
# int16, which full 8-bit weights can overflow (ONNX Runtime's quantization notes)
REDUCE_RANGE = True
QUANTIZATION_KEY = "quantization"  # metadata: how the copy was made (calibration photos, folders)


def calibration_inputs(folders: list[str | Path], exclude: list[str | Path], sizes: tuple[int, ...],
                       count: int = CALIBRATION_PHOTOS, seed: int = 0) -> list[np.ndarray]:
    """Network inputs from ``count`` photos drawn from ``folders`` (less ``exclude``):
    each (1, 1, h, w) float32 L in [0, 100], h, w multiples of 32, the photo seen at
    a short side of ``sizes`` in turn, as filmcolor sees it."""
    files = find_images(folders, "--calibrate")
    if exclude:
        files = outside(files, exclude, "--exclude", "calibration photo")
    random.Random(seed).shuffle(files)
    inputs = []
    for path in files:
        try:
            pixels = read_picture(path).pixels
        except InputError:  # skipped, as training skips it
            continue
        if pixels.ndim == 3:  # alpha left out; grey + alpha is grey, a film frame's kind of input
            pixels = pixels[..., 0] if pixels.shape[2] == 2 else pixels[..., :3]
        L = lightness(pixels).astype(np.float32)
        h, w = small_shape(*L.shape, sizes[len(inputs) % len(sizes)])
        small = shrink(L, h, w)
        inputs.append(np.ascontiguousarray(small[None, None], dtype=np.float32))
        if len(inputs) == count:
            break
    if not inputs:
        raise ModelError(f"--calibrate: no readable photos in {', '.join(map(str, folders))}")
    return inputs


def excluded_nodes(graph: onnx.GraphProto) -> list[str]:
    """Names of the nodes kept in float32: the stem (the first convolution, on the
    one-channel input) and everything from the head on (its average pool, the bin
    logits, the decoding and the upsampling of a/b)."""
    convs = [n for n in graph.node if n.op_type == "Conv"]
    pools = [i for i, n in enumerate(graph.node) if n.op_type == "AveragePool"]
    if not convs or not pools:
        raise ModelError("--int8: expected a classification head after an AveragePool (an effunet model)")
    return [convs[0].name] + [n.name for n in graph.node[pools[-1]:]]


def quantize(src: Path, out: Path, inputs: list[np.ndarray], provenance: dict | None = None) -> dict:
    """Write the int8 copy of model file ``src`` to ``out`` (via a temporary file),
    calibrated on ``inputs`` (as ``calibration_inputs`` gives them); ``provenance``
    (what they were drawn from) goes into its metadata. Returns how far its a/b are
    from the float model's on them: {"mean": ..., "p99": ..., "max": ...} in LAB units."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(inputs)

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {"L": x}

    float_model = onnx.load(str(src))
    meta = {p.key: p.value for p in float_model.metadata_props}
    if METADATA_KEY not in meta:
        raise ModelError(f"{src}: not a filmcolor model file")
    settings = {"calibration_photos": len(inputs), "reduce_range": REDUCE_RANGE, **(provenance or {})}
    with tempfile.TemporaryDirectory() as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "q.onnx"
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=REDUCE_RANGE, op_types_to_quantize=QUANTIZED_OPS,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=excluded_nodes(onnx.load(str(pre)).graph))
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001 (ONNX Runtime's and onnx's own exception classes)
            raise ModelError(f"{src}: ONNX Runtime could not quantize it ({str(e).strip().splitlines()[0]})") from None
        proto = onnx.load(str(q))
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, {**meta, PRECISION_KEY: "int8",
                                            QUANTIZATION_KEY: json.dumps(settings, sort_keys=True)})
        proto.producer_name = "filmcolor train.export --int8"
        fd, part = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
        os.close(fd)
        try:
            onnx.save(proto, part)
            diff = compare(str(src), part, inputs)
            os.chmod(part, 0o644)
            os.replace(part, out)
        finally:
            if os.path.exists(part):
                os.remove(part)
    return diff


def compare(float_path: str, int8_path: str, inputs: list[np.ndarray]) -> dict:
    """|a/b| differences (LAB units) between two model files on ``inputs``."""
    import onnxruntime as ort

    a, b = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in (float_path, int8_path))
    d = np.concatenate([np.abs(a.run(["ab"], {"L": x})[0] - b.run(["ab"], {"L": x})[0]).ravel() for x in inputs])
    return {"mean": float(d.mean()), "p99": float(np.percentile(d, 99)), "max": float(d.max())}
