"""An int8 copy of a model file for the CPU: ONNX Runtime's static quantization.

``python -m train.export SOURCE OUT.onnx --int8 --calibrate DIR`` writes one.
Every convolution of the network, its activations (ReLU6), skips, joins and
upsamplings go to int8 (QDQ format, weights per channel, activations uint8
with ranges measured on calibration photos); the stem (one input channel,
where int8 is slower than float on the CPU) and the head with its decoding
(bin logits, softmax, the annealed mean, the upsampling of a/b) stay float32,
so the colour is decoded exactly as in the float model. On a CPU with VNNI
the network then costs about 0.7x the float one (README, "Speed").

Calibration photos should be training photos: the ranges are a fit, and
photos that choose or report a model must not shape it.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np

from filmcolor import color
from filmcolor.colorizer import shrink, small_shape
from filmcolor.errors import InputError, ModelError
from filmcolor.images import read_picture
from filmcolor.network import METADATA_KEY

from .data import find_images, outside

# every op between the stem and the head; the rest stays float32
QUANTIZED_OPS = ["Conv", "Clip", "Relu", "Add", "Concat", "Resize"]
CALIBRATION_PHOTOS = 64
PRECISION_KEY = "precision"


def calibration_inputs(folders: list[str | Path], exclude: list[str | Path], sizes: tuple[int, ...],
                       count: int = CALIBRATION_PHOTOS, seed: int = 0) -> list[np.ndarray]:
    """Network inputs from ``count`` photos drawn from ``folders`` (less ``exclude``):
    each (1, 1, h, w) float32 L in [0, 100], h, w multiples of 32, the photo seen at
    a short side of ``sizes`` in turn, as filmcolor sees it."""
    files = find_images(folders)
    if exclude:
        files = outside(files, exclude, "--exclude")
    random.Random(seed).shuffle(files)
    inputs = []
    for path in files:
        try:
            pixels = read_picture(path).pixels
        except InputError:  # skipped, as training skips it
            continue
        if pixels.ndim == 3 and pixels.shape[2] >= 3:
            L = color.rgb_to_lab(pixels[..., :3])[..., 0].astype(np.float32)
        else:  # grey: a film frame's kind of input
            L = color.l_from_luma_table(8 * pixels.itemsize, full_range=True)[pixels if pixels.ndim == 2 else pixels[..., 0]]
        h, w = small_shape(*L.shape, sizes[len(inputs) % len(sizes)])
        small = shrink(L, h, w)
        inputs.append(np.ascontiguousarray(small[None, None], dtype=np.float32))
        if len(inputs) == count:
            break
    if not inputs:
        raise ModelError(f"--calibrate: no readable photos in {', '.join(map(str, folders))}")
    return inputs


def excluded_nodes(graph) -> list[str]:
    """Names of the nodes kept in float32: the stem (the first convolution, on the
    one-channel input) and everything from the head on (its average pool, the bin
    logits, the decoding and the upsampling of a/b)."""
    convs = [n for n in graph.node if n.op_type == "Conv"]
    pools = [i for i, n in enumerate(graph.node) if n.op_type == "AveragePool"]
    if not convs or not pools:
        raise ModelError("--int8: expected a classification head after an AveragePool (an effunet model)")
    return [convs[0].name] + [n.name for n in graph.node[pools[-1]:]]


def quantize(src: Path, out: Path, inputs: list[np.ndarray]) -> dict:
    """Write the int8 copy of model file ``src`` to ``out`` (via a temporary file),
    calibrated on ``inputs``. Returns how far its a/b are from the float model's on
    them: {"mean": ..., "p99": ..., "max": ...} in LAB units."""
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
    with tempfile.TemporaryDirectory() as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "q.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        op_types_to_quantize=QUANTIZED_OPS, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=excluded_nodes(onnx.load(str(pre)).graph))
        proto = onnx.load(str(q))
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, {**meta, PRECISION_KEY: "int8"})
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
