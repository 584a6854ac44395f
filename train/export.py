"""``python -m train.export SOURCE OUT.onnx``: a trained network as the model
file filmcolor runs (ONNX, with its settings in the metadata); with
``OUT.safetensors``, a checkpoint in fp16 to keep (the bundled model's is
``train/weights/default.safetensors``).

SOURCE is a run folder or a ``.safetensors`` checkpoint. From a run folder,
by default the run's best epoch (``best.safetensors``); with ``--last`` its
final epoch (``last.pt``), decoded the way that is best on the run's
validation photos (``evaluate_at_best_decoding``): with a cosine schedule the
final epoch is often as good, and less subject to the luck of one noisy
validation figure.

The graph (see ``filmcolor/network.py``) has BatchNorm folded into the
convolutions, the decoding of the head (temperature, chroma gain) and the
upsampling to the input's size inside it, and dynamic batch, height and
width: one file serves every size that is a multiple of 32. The export is
checked against the torch network on several sizes before it is kept.

With ``--int8 --calibrate DIR`` OUT is an int8 copy for the CPU instead
(``train/quantize.py``; SOURCE may then be an .onnx model file too): the
bundled model's is ``filmcolor/weights/default-int8.onnx``, which films on
the CPU run.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import NoReturn

import click
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from filmcolor.errors import ModelError
from filmcolor.network import METADATA_KEY, ModelInfo

from . import checkpoint, data, model
from . import colour as color
from .loop import evaluate_at_best_decoding

OPSET = 17
# (batch, height, width) the export is checked at: other than the traced one, odd multiples of 32
CHECK_SHAPES = ((1, 128, 224), (3, 160, 96), (2, 64, 320))
TOLERANCE = 1e-3  # a/b units: fp32 reordering by ONNX Runtime's fusions stays far below this


class InferenceGraph(nn.Module):
    """L (N, 1, H, W) in [0, 100] -> (ab (N, 2, H, W) decoded and upsampled, raw head output)."""

    def __init__(self, net: model.ColorNet):
        super().__init__()
        self.net = model.fuse_batchnorm(net).eval()

    def forward(self, L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.net(color.l_to_net(L))
        ab = F.interpolate(self.decode(raw), scale_factor=self.net.stride, mode="bilinear", align_corners=False)
        return ab, raw

    def decode(self, raw: torch.Tensor) -> torch.Tensor:
        """The head's a/b, as ``Head.to_ab`` gives them, in operators ONNX Runtime runs fast.

        The annealed mean sum_q softmax(z / T)_q c_q is written as exp(z / T - max)
        through one 1x1 convolution with the rows (a_q, b_q, 1), then a division:
        no softmax over the channel axis, which ONNX Runtime runs through a
        transpose at a fifth of the network's whole time.
        """
        head = self.net.head
        if head.cfg.kind != "classify":
            return head.to_ab(raw)
        logits = raw / head.cfg.temperature
        z = torch.exp(logits - logits.amax(dim=1, keepdim=True))
        centres = head.ab_centres.float()
        if not head.cfg.confidence:
            rows = torch.cat([centres.t() * head.cfg.chroma_gain, torch.ones(1, len(centres))])[:, :, None, None]
            s = F.conv2d(z, rows)
            return s[:, :2] / s[:, 2:]
        # one more row, |c|^2, gives the second moment for the sureness weight
        rows = torch.cat([centres.t(), torch.ones(1, len(centres)), (centres**2).sum(1, keepdim=True).t()])
        s = F.conv2d(z, rows[:, :, None, None])
        mean = s[:, :2] / s[:, 2:3]
        return mean * (head.cfg.chroma_gain * model.sureness(mean, s[:, 3:] / s[:, 2:3]) ** head.cfg.confidence)


def last_epoch(run: Path) -> tuple[model.ColorNet, ModelInfo]:
    """RUN's final weights, at their best decoding, with their validation figures."""
    net, info = checkpoint.load(run / "best.safetensors")  # architecture and data summary
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    net.load_state_dict(state["model"])
    figures = evaluate_at_best_decoding(net, None, data.validation_crops(run, info.train_size), 32,
                                        torch.device("cpu"))
    info.params = model.config_to_dict(net.cfg)
    info.validation = {k: round(v, 4) for k, v in figures.items() if v is not None and k != "val_loss"}
    info.validation["epoch"] = state["epoch"]
    return net, info


def to_onnx(net: model.ColorNet, info: ModelInfo, out: str | os.PathLike) -> None:
    """Write ``net`` with ``info`` as filmcolor's ONNX model file (via a temporary file)."""
    import onnx
    import onnxruntime as ort

    out = Path(out)
    reference = net.eval()
    graph = InferenceGraph(copy.deepcopy(net))  # folding BatchNorm changes the copy, not the caller's net
    centres = graph.net.head.ab_centres.tolist() if graph.net.head.cfg.kind == "classify" else None
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's notes; the check below is what counts
            torch.onnx.export(
                graph, (torch.full((2, 1, 128, 128), 50.0),), tmp, input_names=["L"], output_names=["ab", "raw"],
                dynamic_axes={"L": {0: "n", 2: "h", 3: "w"}, "ab": {0: "n", 2: "h", 3: "w"},
                              "raw": {0: "n", 2: "h_out", 3: "w_out"}},
                opset_version=OPSET, dynamo=False,
            )
        # ONNX Runtime's basic optimizations only (constant folding, no hardware-specific
        # layouts), saved, so that the pads the exporter computes in the graph are constants
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = tmp
        ort.InferenceSession(tmp, opts, providers=["CPUExecutionProvider"])
        proto = onnx.load(tmp)
        fold_pads(proto.graph)
        settings = info.to_json(stride=graph.net.stride, ab_centres=centres)
        onnx.helper.set_model_props(proto, {METADATA_KEY: settings})
        proto.producer_name = "filmcolor train.export"
        onnx.save(proto, tmp)
        check(reference, ort.InferenceSession(tmp, providers=["CPUExecutionProvider"]))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would survive the rename
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fold_pads(graph) -> int:
    """Move each zero Pad that feeds only a Conv into the Conv's own (asymmetric) pads.

    torch cannot say "one pixel more at the bottom" in a convolution, so the
    export has a Pad before every stride-2 convolution ('SAME' padding); ONNX
    Runtime runs each as a separate pass over the features (4% of the time).
    Returns how many were folded.
    """
    from onnx import helper, numpy_helper

    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    inits = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}

    def value(name: str):
        if name in inits:
            return numpy_helper.to_array(inits[name])
        node = producer.get(name)
        if node is not None and node.op_type == "Constant":
            return numpy_helper.to_array(node.attribute[0].t)
        if node is not None and node.op_type == "Cast":
            return value(node.input[0])
        return None

    folded = 0
    for pad in list(graph.node):
        if pad.op_type != "Pad" or pad.output[0] in outputs:
            continue
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        users = consumers.get(pad.output[0], [])
        pads = value(pad.input[1])
        fill = value(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else 0
        if (mode != b"constant" or len(users) != 1 or users[0].op_type != "Conv" or pads is None
                or len(pads) != 8 or any(pads[[0, 1, 4, 5]]) or np.any(fill)):
            continue
        conv = users[0]
        attrs = {a.name: a for a in conv.attribute}
        old = list(attrs["pads"].ints) if "pads" in attrs else [0, 0, 0, 0]
        new = [old[0] + int(pads[2]), old[1] + int(pads[3]), old[2] + int(pads[6]), old[3] + int(pads[7])]
        if "pads" in attrs:
            conv.attribute.remove(attrs["pads"])
        conv.attribute.append(helper.make_attribute("pads", new))
        conv.input[0] = pad.input[0]
        graph.node.remove(pad)
        folded += 1
    used = {i for n in graph.node for i in n.input}
    for t in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(t)  # the folded pads' own
    return folded


def check(net: model.ColorNet, session) -> float:
    """Largest a/b difference between the torch network and its export on CHECK_SHAPES."""
    worst = 0.0
    g = torch.Generator().manual_seed(0)
    for n, h, w in CHECK_SHAPES:
        L = torch.rand(n, 1, h, w, generator=g) * 100
        with torch.no_grad():
            want = F.interpolate(net.predict_ab(color.l_to_net(L)), size=(h, w), mode="bilinear",
                                 align_corners=False).numpy()
        got = session.run(["ab"], {"L": L.numpy()})[0]
        worst = max(worst, float(np.abs(got - want).max()))
    if worst > TOLERANCE:
        raise ModelError(f"the ONNX export differs from the network by {worst:.2g} a/b units")
    return worst


def export(source: Path, out: Path, last: bool = False, decoding: tuple[float, ...] | None = None,
           photo_size: int | None = None) -> ModelInfo:
    """Write SOURCE's network to OUT (.onnx or .safetensors); ``decoding``
    (temperature, gain[, confidence]) replaces the one training chose;
    ``photo_size`` (a multiple of 32) is the short side photos run at by default."""
    if photo_size is not None and (photo_size < 32 or photo_size % 32):
        raise ModelError(f"--photo-size {photo_size}: expected a positive multiple of 32")
    if source.is_dir():
        net, info = last_epoch(source) if last else checkpoint.load(source / "best.safetensors")
    elif last:
        raise ModelError("--last takes a run folder, not a checkpoint file")
    else:
        net, info = checkpoint.load(source)
    if decoding is not None:
        if net.head.cfg.kind != "classify":
            raise ModelError("--decoding: only a classification model's decoding can be set")
        cfg = net.head.cfg
        cfg.temperature, cfg.chroma_gain = decoding[0], decoding[1]
        cfg.confidence = decoding[2] if len(decoding) > 2 else 0.0
        info.params = model.config_to_dict(net.cfg)
        # the validation figures were measured at training's decoding: say which one was set after
        info.validation = {**info.validation, "decoding_set": list(decoding)}
    if photo_size is not None:
        info.photo_size = photo_size
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".safetensors":  # a checkpoint to keep (fp16), as the bundled model's is
        checkpoint.save(out, net, info, half=True)
        checkpoint.load(out)
    else:
        to_onnx(net, info, out)
    return info


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--last", is_flag=True, help="The final epoch (at its best decoding) instead of the best one.")
@click.option("--decoding", metavar="T,GAIN[,CONFIDENCE]", default=None,
              help="Decode at this temperature, chroma gain and sureness power instead of training's choice "
                   "(e.g. one chosen on full photos by benchmarks/decodings.py).")
@click.option("--photo-size", type=int, default=None,
              help="Short side photos are coloured at by default (a multiple of 32, e.g. one chosen on full "
                   "photos by benchmarks/decodings.py --size); films stay at the training size.")
@click.option("--int8", is_flag=True,
              help="Write an int8 copy for the CPU (the bundled network: 0.55x the time), calibrated on --calibrate's "
                   "photos; SOURCE may also be an .onnx model file.")
@click.option("--calibrate", "calibrate_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="--int8: folder of photos (training photos, not those that choose or report a model) whose "
                   "activations set the int8 ranges. Repeatable.")
@click.option("--exclude", "exclude_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="--int8: leave the photos below this folder out of the calibration. Repeatable.")
def main(source: Path, out: Path, last: bool, decoding: str | None, photo_size: int | None, int8: bool,
         calibrate_dirs: tuple[Path, ...], exclude_dirs: tuple[Path, ...]) -> None:
    """Write SOURCE (a run folder or a .safetensors checkpoint) to OUT: an .onnx
    model file for `filmcolor --model OUT`, or a .safetensors checkpoint (fp16)
    to keep beside it."""
    if out.suffix not in (".onnx", ".safetensors"):
        fail(f"{out}: the model file filmcolor runs is ONNX; name it .onnx (or .safetensors for a checkpoint)")
    if int8 or calibrate_dirs or exclude_dirs:
        _int8(source, out, int8, last, decoding, photo_size, calibrate_dirs, exclude_dirs)
        return
    if source.suffix == ".onnx":
        fail(f"{source}: already a model file (SOURCE is a run folder or a .safetensors checkpoint; "
             "an .onnx one only with --int8)")
    try:
        info = export(source, out, last, _decoding(decoding), photo_size)
    except ModelError as e:
        fail(str(e))
    size = out.stat().st_size / 1e6
    click.echo(f"{out}: {info.arch}, {size:.1f} MB, validation {info.validation}")
    if out.suffix == ".onnx":
        click.echo(f"use it: filmcolor image photo.jpg --model {out}")


def _decoding(decoding: str | None) -> tuple[float, ...] | None:
    """--decoding's values; a one-line error and exit 2 if they are wrong."""
    values = None
    if decoding is not None:
        try:
            values = tuple(float(v) for v in decoding.split(","))
        except ValueError:
            values = ()
        if len(values) not in (2, 3) or values[0] <= 0:
            fail(f"--decoding {decoding}: expected T,GAIN[,CONFIDENCE] with T > 0, like 1.0,1.2")
    return values


def _int8(source: Path, out: Path, int8: bool, last: bool, decoding: str | None, photo_size: int | None,
          calibrate_dirs: tuple[Path, ...], exclude_dirs: tuple[Path, ...]) -> None:
    """--int8: SOURCE (exported to float first unless it is a model file) quantized to OUT."""
    from filmcolor.network import Network

    from . import quantize

    if not int8:
        fail("--calibrate and --exclude go with --int8")
    if out.suffix != ".onnx":
        fail(f"{out}: an int8 model is an .onnx file")
    if not calibrate_dirs:
        fail("--int8 needs --calibrate DIR: training photos to set the int8 ranges on")
    if source.suffix == ".onnx" and (last or decoding is not None or photo_size is not None):
        fail("--last, --decoding and --photo-size need a run folder or checkpoint, not a model file")
    values = _decoding(decoding)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        fail(f"cannot create the folder {out.parent}: {e.strerror}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            float_path = source
            if source.suffix != ".onnx":
                float_path = Path(tmp) / "float.onnx"
                export(source, float_path, last, values, photo_size)
            net = Network(float_path, device="cpu")
            if net.precision != "float32":
                raise ModelError(f"{source}: already {net.precision}; quantize the float model it came from")
            if net.kind != "classify":
                raise ModelError(f"{source}: only a model with a classification head can be quantized "
                                 "(its decoding stays float32)")
            sizes = tuple(sorted({net.info.train_size, net.info.photo_size or net.info.train_size}))
            inputs = quantize.calibration_inputs(list(calibrate_dirs), list(exclude_dirs), sizes)
            diff = quantize.quantize(float_path, out, inputs, {"calibrate": [str(d) for d in calibrate_dirs],
                                                               "exclude": [str(d) for d in exclude_dirs]})
    except (ModelError, data.DataError) as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write {out}: {e.strerror}")
    click.echo(f"{out}: int8, {out.stat().st_size / 1e6:.1f} MB; a/b against the float model on {len(inputs)} "
               f"calibration photos: mean {diff['mean']:.2f}, 99th percentile {diff['p99']:.2f}, "
               f"max {diff['max']:.1f} (LAB units)")
    click.echo(f"use it: filmcolor video film.mp4 out.mp4 --model {out}")


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
