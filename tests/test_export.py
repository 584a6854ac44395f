"""The ONNX model file against the torch network it was exported from."""

import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from filmcolor import Colorizer
from filmcolor.decoding import Decoding, decode, softmax
from filmcolor.errors import ModelError
from filmcolor.network import DEFAULT_PATH, METADATA_KEY, Network
from train import checkpoint, model
from train import colour as color
from train.export import main as export_main
from train.export import to_onnx

# sizes and batches other than the traced one (2 x 128 x 128), including odd multiples of 32
SHAPES = [(1, 128, 224), (8, 128, 128), (3, 160, 96), (2, 256, 448), (1, 32, 32)]


def torch_ab(net: model.ColorNet, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        x = color.l_to_net(torch.from_numpy(L))
        raw = net(x)
        ab = F.interpolate(net.head.to_ab(raw), size=L.shape[-2:], mode="bilinear", align_corners=False)
    return ab.numpy(), raw.numpy()


@pytest.mark.parametrize("arch,head,confidence", [("unet", "regression", 0), ("effunet", "classify", 0),
                                                  ("effunet", "classify", 0.7), ("effunet", "regression", 0)])
def test_export_equals_torch_at_every_size(tmp_path, arch, head, confidence):
    torch.manual_seed(0)
    params = {"head": {"kind": head, "temperature": 0.5, "chroma_gain": 1.3, "confidence": confidence}}
    if arch == "unet":
        params["channels"] = [8, 16, 16, 32, 32]
    net = model.build(arch, params).eval()
    for m in net.modules():  # BatchNorm statistics that are not the identity, so folding them is tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    info = checkpoint.ModelInfo(arch=arch, params=model.config_to_dict(net.cfg))
    path = tmp_path / "m.onnx"
    to_onnx(net, info, path)
    onnx_net = Network(path, device="cpu")
    assert onnx_net.kind == head and onnx_net.decoding == Decoding(0.5, 1.3, confidence)
    assert onnx_net.stride == net.stride
    rng = np.random.default_rng(0)
    for n, h, w in SHAPES[:3] if arch == "effunet" else SHAPES:
        L = (rng.random((n, 1, h, w)) * 100).astype(np.float32)
        want_ab, want_raw = torch_ab(net, L)
        got_ab, got_raw = onnx_net.run(L, raw=True)
        assert got_ab.shape == (n, 2, h, w)
        assert np.abs(got_ab - want_ab).max() < 1e-3, (n, h, w)
        assert np.abs(got_raw - want_raw).max() < 1e-3, (n, h, w)
        if head == "classify":  # numpy's decoding (references, sweeps) is the graph's
            prob = softmax(got_raw.transpose(0, 2, 3, 1) / np.float32(0.5))
            mine = decode(prob, onnx_net.ab_centres, onnx_net.decoding).transpose(0, 3, 1, 2)
            graph = torch.from_numpy(np.ascontiguousarray(mine))
            graph = F.interpolate(graph, scale_factor=net.stride, mode="bilinear", align_corners=False).numpy()
            assert np.abs(graph - got_ab).max() < 1e-3


def test_bundled_model_is_the_export_of_its_checkpoint():
    net, info = checkpoint.load(checkpoint.DEFAULT_PATH)
    shipped = Network(DEFAULT_PATH, device="cpu")
    assert shipped.info.params == info.params and shipped.info.train_size == info.train_size
    assert shipped.info.photo_size == info.photo_size
    assert np.array_equal(shipped.ab_centres, net.head.ab_centres.numpy())
    rng = np.random.default_rng(1)
    for n, h, w in SHAPES:
        L = (rng.random((n, 1, h, w)) * 100).astype(np.float32)
        assert np.abs(shipped.run(L)[0] - torch_ab(net, L)[0]).max() < 1e-3, (n, h, w)


def test_bundled_model_upsamples_by_constant_scales():
    # a Resize given an output size computed from a Shape runs in plain NCHW with
    # reorders around it; by constant scales ONNX Runtime keeps it blocked (the
    # bundled network 5-12% faster, same output within 3e-6)
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(DEFAULT_PATH)).graph
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    resizes = [n for n in graph.node if n.op_type == "Resize"]
    assert len(resizes) == 5  # four decoder levels and the a/b to the input's size
    for n in resizes:
        assert len(n.input) == 3 and n.input[2] in constants, n.name  # (X, roi, scales): no sizes input
        assert list(constants[n.input[2]][2:]) in ([2.0, 2.0], [4.0, 4.0]), n.name


def test_export_command_writes_a_model_filmcolor_runs(tmp_path, tiny_model):
    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32]})
    ckpt = tmp_path / "run.safetensors"
    checkpoint.save(ckpt, net, checkpoint.ModelInfo(arch="unet", params=model.config_to_dict(net.cfg)))
    out = tmp_path / "mine.onnx"
    result = CliRunner().invoke(export_main, [str(ckpt), str(out)])
    assert result.exit_code == 0, result.output
    assert f"filmcolor image photo.jpg --model {out}" in result.output
    assert os.stat(out).st_mode & 0o777 == 0o644  # readable like any file, not mkstemp's 0600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert Colorizer.load(out, device="cpu").colorize(np.zeros((40, 50), np.uint8)).shape == (40, 50, 3)
    wrong = CliRunner().invoke(export_main, [str(ckpt), str(tmp_path / "mine.pt")])
    assert wrong.exit_code == 2 and "name it .onnx" in wrong.output
    kept = CliRunner().invoke(export_main, [str(ckpt), str(tmp_path / "kept.safetensors")])
    assert kept.exit_code == 0 and checkpoint.load(tmp_path / "kept.safetensors")[1].arch == "unet"


def test_settings_are_checked_on_load(tmp_path):
    import onnx

    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32]})
    path = tmp_path / "m.onnx"
    to_onnx(net, checkpoint.ModelInfo(arch="unet", params=model.config_to_dict(net.cfg)), path)
    proto = onnx.load(path)
    del proto.metadata_props[:]
    onnx.save(proto, path)
    with pytest.raises(ModelError, match="without a filmcolor config"):
        Network(path)


@pytest.mark.parametrize("old,new", [("raw", "logits"), ("L", "input")])
def test_a_graph_with_other_inputs_or_outputs_is_refused_on_load(tmp_path, tiny_model, old, new):
    import onnx

    proto = onnx.load(tiny_model)
    for value in (*proto.graph.input, *proto.graph.output):
        value.name = new if value.name == old else value.name
    for node in proto.graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        node.output[:] = [new if o == old else o for o in node.output]
    path = tmp_path / "renamed.onnx"
    onnx.save(proto, path)
    with pytest.raises(ModelError, match="expected input L and outputs ab, raw"):
        Network(path, device="cpu")


def test_export_can_set_the_decoding_chosen_on_full_photos(tmp_path):
    torch.manual_seed(0)
    net = model.build("effunet", {"head": {"kind": "classify", "temperature": 0.38, "chroma_gain": 1.3}})
    ckpt = tmp_path / "run.safetensors"
    checkpoint.save(ckpt, net, checkpoint.ModelInfo(arch="effunet", params=model.config_to_dict(net.cfg)))
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(export_main, [str(ckpt), str(out), "--decoding", "1.0,1.15,0.5"])
    assert result.exit_code == 0, result.output
    assert Network(out, device="cpu").decoding == Decoding(1.0, 1.15, 0.5)
    bad = CliRunner().invoke(export_main, [str(ckpt), str(out), "--decoding", "warm"])
    assert bad.exit_code == 2 and "expected T,GAIN" in bad.output


def test_export_can_set_the_size_photos_run_at(tmp_path):
    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32]})
    ckpt = tmp_path / "run.safetensors"
    checkpoint.save(ckpt, net, checkpoint.ModelInfo(arch="unet", params=model.config_to_dict(net.cfg)))
    out = tmp_path / "m.onnx"
    assert Colorizer.load(ckpt_export(ckpt, tmp_path / "plain.onnx"), device="cpu").size == 128
    result = CliRunner().invoke(export_main, [str(ckpt), str(out), "--photo-size", "192"])
    assert result.exit_code == 0, result.output
    c = Colorizer.load(out, device="cpu")
    assert (c.info.photo_size, c.size, c.film_size) == (192, 192, 128)
    kept = tmp_path / "kept.safetensors"
    assert CliRunner().invoke(export_main, [str(ckpt), str(kept), "--photo-size", "160"]).exit_code == 0
    assert checkpoint.load(kept)[1].photo_size == 160  # and an export of the kept checkpoint keeps it
    bad = CliRunner().invoke(export_main, [str(ckpt), str(out), "--photo-size", "200"])
    assert bad.exit_code == 2 and "multiple of 32" in bad.output


@pytest.mark.parametrize("bad", [100, 0, "192", 16.0])
def test_a_model_files_photo_size_is_checked_on_load(tmp_path, bad):
    import onnx

    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32]})
    path = tmp_path / "m.onnx"
    to_onnx(net, checkpoint.ModelInfo(arch="unet", params=model.config_to_dict(net.cfg)), path)
    plain = onnx.load(str(path))
    meta = {p.key: p.value for p in plain.metadata_props}
    assert "photo_size" not in meta[METADATA_KEY]  # unset, it is left out: older filmcolor reads the file
    cfg = json.loads(meta[METADATA_KEY])
    cfg["photo_size"] = bad
    onnx.helper.set_model_props(plain, {METADATA_KEY: json.dumps(cfg)})
    onnx.save(plain, str(path))
    with pytest.raises(ModelError, match=f"m.onnx: photo_size {bad!r} is not a positive multiple of 32"):
        Network(path, device="cpu")


def ckpt_export(ckpt, out):
    assert CliRunner().invoke(export_main, [str(ckpt), str(out)]).exit_code == 0
    return out
