"""``python -m train.export SOURCE OUT.onnx``: a trained network as the model
file filmcolor runs (ONNX, with its settings in the metadata).

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
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

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
        ab = F.interpolate(self.net.head.to_ab(raw), scale_factor=self.net.stride, mode="bilinear",
                           align_corners=False)
        return ab, raw


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
    reference = model.build(info.arch, model.config_to_dict(net.cfg))
    reference.load_state_dict(net.state_dict())
    reference.eval()
    graph = InferenceGraph(net)
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
        proto = onnx.load(tmp)
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


def export(source: Path, out: Path, last: bool = False) -> ModelInfo:
    if source.is_dir():
        net, info = last_epoch(source) if last else checkpoint.load(source / "best.safetensors")
    elif last:
        raise ModelError("--last takes a run folder, not a checkpoint file")
    else:
        net, info = checkpoint.load(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    to_onnx(net, info, out)
    return info


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--last", is_flag=True, help="The final epoch (at its best decoding) instead of the best one.")
def main(source: Path, out: Path, last: bool) -> None:
    """Write SOURCE (a run folder or a .safetensors checkpoint) to OUT, an .onnx
    model file for `filmcolor --model OUT`."""
    if out.suffix != ".onnx":
        click.echo(f"error: {out}: the model file filmcolor runs is ONNX; name it .onnx", err=True)
        sys.exit(2)
    try:
        info = export(source, out, last)
    except ModelError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    size = out.stat().st_size / 1e6
    click.echo(f"{out}: {info.arch}, {size:.1f} MB, validation {info.validation}")
    click.echo(f"use it: filmcolor image photo.jpg --model {out}")


if __name__ == "__main__":
    main()
