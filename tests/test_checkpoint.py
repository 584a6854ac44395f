import json

import pytest
import torch
from safetensors.torch import save_file

from filmcolor.errors import ModelError
from train import checkpoint, model


def test_round_trip_rebuilds_the_same_network(tmp_path):
    torch.manual_seed(1)
    net = model.build("effunet", {"head": {"kind": "classify"}}).eval()
    info = checkpoint.ModelInfo(arch="effunet", params=model.config_to_dict(net.cfg), validation={"psnr": 22.0})
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, net, info, half=False)
    back, back_info = checkpoint.load(path)
    assert back_info.validation == {"psnr": 22.0}
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net.predict_ab(x), back.predict_ab(x), atol=1e-4)


def test_half_storage_halves_the_file(tmp_path):
    net = model.build("unet")
    info = checkpoint.ModelInfo(arch="unet", params=model.config_to_dict(net.cfg))
    checkpoint.save(tmp_path / "f32.safetensors", net, info, half=False)
    checkpoint.save(tmp_path / "f16.safetensors", net, info, half=True)
    ratio = (tmp_path / "f16.safetensors").stat().st_size / (tmp_path / "f32.safetensors").stat().st_size
    assert 0.45 < ratio < 0.55
    back, _ = checkpoint.load(tmp_path / "f16.safetensors")
    assert all(p.dtype == torch.float32 for p in back.parameters())


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        checkpoint.load(tmp_path / "nope.safetensors")


def test_not_safetensors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04pickle? no thanks" * 10)
    with pytest.raises(ModelError, match="not a safetensors model file"):
        checkpoint.load(bad)


def test_safetensors_without_config(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelError, match="without a filmcolor config"):
        checkpoint.load(path)


@pytest.mark.parametrize(
    "meta,match",
    [
        ("{not json", "malformed"),
        (json.dumps({"format": 1, "arch": "transformer", "params": {}}), "unknown architecture 'transformer'"),
        (json.dumps({"format": 9, "arch": "unet", "params": {}}), "format 9"),
        (json.dumps({"format": 1, "arch": "unet", "params": {"depth": 2}}), "cannot build unet"),
    ],
)
def test_bad_configs(tmp_path, meta, match):
    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"filmcolor": meta})
    with pytest.raises(ModelError, match=match):
        checkpoint.load(path)


def test_weights_that_do_not_fit(tmp_path):
    small = model.build("unet", {"channels": [8, 16, 32, 64]})
    info = checkpoint.ModelInfo(arch="unet", params=model.config_to_dict(model.build("unet").cfg))
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, small, info)
    with pytest.raises(ModelError, match="weights do not fit"):
        checkpoint.load(path)


def test_bundled_default_model_is_small_and_beats_grey():
    assert checkpoint.DEFAULT_PATH.stat().st_size < 25e6
    net, info = checkpoint.load()
    v = info.validation
    assert v["psnr"] > v["psnr_grey"]
    assert v["colorfulness"] >= 0.6 * v["colorfulness_truth"]
    assert info.train_size == 128
