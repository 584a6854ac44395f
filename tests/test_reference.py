"""Colour from a reference photo (filmcolor/reference.py, `--reference`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from filmcolor import Colorizer
from filmcolor.cli import main
from filmcolor.errors import InputError
from filmcolor.network import ModelInfo
from filmcolor.reference import (
    LIGHT_BANDS,
    PALETTE,
    Reference,
    bin_bias,
    calibrate,
    fit_calibration,
    make_reference,
    softmax,
    steer_ab,
)
from train import model
from train.export import to_onnx


def plain(rgb, h=48, w=64) -> np.ndarray:
    return np.full((h, w, 3), rgb, np.uint8)


def lab_ab(rgb: tuple) -> np.ndarray:
    return cv2.cvtColor(np.array([[rgb]], np.float32) / 255, cv2.COLOR_RGB2LAB)[0, 0, 1:]


def untrained_model(kind: str, path) -> None:
    """An untrained unet with a ``kind`` head written to ``path`` as an ONNX model file."""
    torch.manual_seed(0)
    head = {"kind": kind, "temperature": 1.0} if kind == "classify" else {"kind": kind}
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32], "head": head})
    to_onnx(net, ModelInfo(arch="unet", params=model.config_to_dict(net.cfg), train_size=64), path)
    return path


def untrained(kind: str, tmp_path) -> Colorizer:
    return Colorizer.load(untrained_model(kind, tmp_path / f"{kind}.onnx"), device="cpu", size=64)


@pytest.fixture(scope="module")
def classify_model(tmp_path_factory):
    return untrained_model("classify", tmp_path_factory.mktemp("model") / "classify.onnx")


@pytest.fixture(scope="module")
def classify_colorizer(classify_model) -> Colorizer:
    return Colorizer.load(classify_model, device="cpu", size=64)


def test_a_reference_palette_is_its_colours_on_the_models_bins(classify_colorizer):
    ref = classify_colorizer.reference(plain((200, 40, 40)))
    centres = classify_colorizer.net.ab_centres
    assert ref.hist is not None and ref.hist.shape == (len(centres),)
    assert float(ref.hist.sum()) == pytest.approx(1.0, abs=1e-5)
    red = lab_ab((200, 40, 40))
    assert np.linalg.norm(centres[int(ref.hist.argmax())] - red) < 8  # the red's own bin, or next to it
    assert float(ref.hist.min()) > 0  # a colour the reference lacks is rare, not impossible


@pytest.mark.parametrize("picture", [np.full((20, 20, 3), 128, np.uint8), np.full((20, 20), 128, np.uint8)])
def test_a_grey_reference_is_refused(picture):
    with pytest.raises(InputError, match="no colour to give"):
        make_reference(picture, None)


def test_the_reference_pulls_the_colour_toward_its_palette(classify_colorizer, photo):
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    red, blue = plain((200, 40, 40)), plain((40, 60, 200))

    def mean_ab(out):
        return cv2.cvtColor(out.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[..., 1:].reshape(-1, 2).mean(0)

    auto = classify_colorizer.colorize(grey)
    to_red = mean_ab(classify_colorizer.colorize(grey, red))
    to_blue = mean_ab(classify_colorizer.colorize(grey, blue))
    want_red, want_blue = lab_ab((200, 40, 40)), lab_ab((40, 60, 200))
    # each reference brings the picture's mean colour nearer its own than the other does
    assert np.linalg.norm(to_red - want_red) < np.linalg.norm(to_blue - want_red)
    assert np.linalg.norm(to_blue - want_blue) < np.linalg.norm(to_red - want_blue)
    assert np.linalg.norm(to_red - want_red) < np.linalg.norm(mean_ab(auto) - want_red)
    # strength 0: exactly the automatic colour
    none = classify_colorizer.colorize(grey, classify_colorizer.reference(red, strength=0.0))
    assert np.array_equal(none, auto)


def test_a_reference_that_agrees_with_the_network_changes_nothing():
    logits = np.random.default_rng(0).standard_normal((2, 6, 5, 10)).astype(np.float32)
    marginal = softmax(logits).mean((1, 2))
    ref = make_reference(plain((200, 40, 40)), np.zeros((10, 2)) + np.arange(10.0)[:, None])
    ref.hist = marginal[0] + 1e-4 / 10  # as if the reference held the picture's own palette (plus the floor)
    bias = bin_bias(logits[:1], ref)
    assert np.allclose(bias - bias.mean(), 0, atol=1e-3)
    ref.hist = np.roll(ref.hist, 1)  # a palette that disagrees does shift the bins
    assert np.abs(bin_bias(logits[:1], ref)).max() > 0.1


def test_regression_models_are_moved_toward_the_references_mean_and_spread():
    rng = np.random.default_rng(0)
    ab = (rng.standard_normal((1, 2, 16, 16)) * 3 + np.array([5.0, -5.0]).reshape(1, 2, 1, 1)).astype(np.float32)
    ref = make_reference(plain((200, 40, 40)), None, strength=1.0)
    ref.std = np.array([10.0, 4.0], np.float32)
    out = steer_ab(ab, ref)
    mean, std = ab.mean((2, 3))[0], ab.std((2, 3), ddof=1)[0]
    # PALETTE of the way: the mean linearly, the spread geometrically
    assert np.allclose(out.mean((2, 3))[0], mean + PALETTE * (ref.mean - mean), atol=1e-3)
    assert np.allclose(out.std((2, 3), ddof=1)[0], std * (ref.std / std) ** PALETTE, atol=1e-2)
    ref.strength = 0.0
    assert np.allclose(steer_ab(ab, ref), ab, atol=1e-5)


def test_cli_reference(classify_model, tmp_path, photo):
    src = tmp_path / "old.png"
    Image.fromarray(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)).save(src)
    Image.fromarray(plain((200, 40, 40))).save(tmp_path / "red.png")

    def run(*extra):
        return CliRunner().invoke(main, ["image", str(src), "--model", str(classify_model), "-q", *map(str, extra)])

    assert run("-o", tmp_path / "auto.png").exit_code == 0
    r = run("-o", tmp_path / "red_out.png", "--reference", tmp_path / "red.png")
    assert r.exit_code == 0, r.output
    auto, red = (np.asarray(Image.open(tmp_path / n)).astype(int) for n in ("auto.png", "red_out.png"))
    assert (red[..., 0] - red[..., 2]).mean() > (auto[..., 0] - auto[..., 2]).mean()
    r = run("-o", tmp_path / "weak.png", "--reference-strength", "0.5")
    assert r.exit_code == 0 and "note: --reference-strength does nothing without a reference" in r.output
    for bad, says in [(tmp_path / "none.jpg", "no such file"), (src, "has no colour to give")]:
        r = run("-o", tmp_path / "x.png", "--reference", bad)
        assert r.exit_code == 1 and r.output.strip() == f"error: reference {bad}: {says}" + (
            " (it is grey)" if bad == src else ""), r.output
        assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("given", ["options", "list"])
def test_film_references_apply_from_their_time_and_never_before(classify_model, tmp_path, given):
    import shutil

    import av
    from media import make_clip

    if not shutil.which("ffprobe"):
        pytest.skip("needs ffprobe")
    src = make_clip(tmp_path / "in.mp4", frames=48, fps=24, size=(128, 96))
    Image.fromarray(plain((200, 40, 40))).save(tmp_path / "red.png")
    Image.fromarray(plain((40, 60, 200))).save(tmp_path / "blue.png")
    dst = tmp_path / "o.mkv"
    if given == "options":
        refs = ["--reference", str(tmp_path / "red.png"), "--reference", f"0:01={tmp_path / 'blue.png'}"]
    else:  # a list beside the photos, naming them relative to itself
        (tmp_path / "refs.txt").write_text("# shot list\n0 red.png\n\n0:01=blue.png\n")
        refs = ["--reference-list", str(tmp_path / "refs.txt")]
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--model", str(classify_model), "--codec", "ffv1",
                                  *refs, "-q"])
    assert r.exit_code == 0, r.output
    with av.open(str(dst)) as c:
        frames = [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24").astype(int)) for f in c.decode(video=0)]
    assert len(frames) == 48
    red_minus_blue = [(t, (a[..., 0] - a[..., 2]).mean()) for t, a in frames]
    before = [d for t, d in red_minus_blue if t < 1.0]
    after = [d for t, d in red_minus_blue if t >= 1.0]
    assert len(before) == len(after) == 24
    assert min(before) > max(after) + 20  # every frame before 1 s redder than every frame from 1 s on


def test_a_reference_after_the_films_end_is_said(classify_model, tmp_path):
    from media import make_clip

    src = make_clip(tmp_path / "in.mp4", frames=24, fps=24)  # one second
    Image.fromarray(plain((200, 40, 40))).save(tmp_path / "red.png")
    red = tmp_path / "red.png"
    args = ["video", str(src), str(tmp_path / "o.mkv"), "--model", str(classify_model), "--codec", "ffv1", "-q"]
    r = CliRunner().invoke(main, [*args, "--reference", str(red), "--reference", f"1:39={red}"])
    assert r.exit_code == 0, r.output
    assert f"warning: {src}: reference {red} from 1:39 starts after the film ends (1): it colours nothing" in r.output
    assert r.output.count("warning") == 1  # the one from 0 is fine
    r = CliRunner().invoke(main, [*args, "--reference", f"0.5={red}"])
    assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_film_reference_errors_are_one_line_before_any_work(classify_model, tmp_path):
    from media import make_clip

    src = make_clip(tmp_path / "in.mp4", frames=4)
    (tmp_path / "bad.txt").write_text("0 \n")
    (tmp_path / "late.txt").write_text("soon red.png\n")
    for opt, ref, says in [
        ("--reference", "later=x.png", "Invalid value for --reference: 'later' is not a time"),
        ("--reference", f"1:00={tmp_path / 'none.png'}", f"error: reference {tmp_path / 'none.png'}: no such file"),
        ("--reference-list", tmp_path / "none.txt", f"cannot read {tmp_path / 'none.txt'}: No such file"),
        ("--reference-list", tmp_path / "bad.txt", "bad.txt line 1: expected TIME PHOTO"),
        ("--reference-list", tmp_path / "late.txt", "late.txt line 1): 'soon' is not a time"),
    ]:
        r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mp4"), "--model", str(classify_model),
                                      opt, str(ref)])
        assert r.exit_code != 0 and says in r.output, r.output
        assert not (tmp_path / "o.mp4").exists()


def test_calibration_recovers_a_map_and_is_never_worse_than_no_colour():
    g = np.random.default_rng(1)
    L = (g.random(4000) * 100).astype(np.float32)
    got = (g.standard_normal((4000, 2)) * 20).astype(np.float32)
    # truth: the network's colour turned, scaled and shifted by lightness
    m = np.array([[0.6, -0.3], [0.2, 0.8]], np.float32)
    truth = got @ m.T + np.stack([L * 0.2 - 10, 15 - L * 0.1], 1)
    mapped = calibrate(L.reshape(1, 1, 40, 100), got.T.reshape(1, 2, 40, 100),
                       Reference(None, truth.mean(0), truth.std(0), 1.0, fit_calibration(L, got, truth)))
    err = np.linalg.norm(mapped.reshape(2, -1).T - truth, axis=1).mean()
    assert err < 0.1 * np.linalg.norm(truth, axis=1).mean()
    # colour the network gives at random: the fit gives (close to) none, never more error than none
    noise = (g.standard_normal((4000, 2)) * 20).astype(np.float32)
    w = fit_calibration(L, noise, truth)
    fitted = calibrate(L.reshape(1, 1, 40, 100), noise.T.reshape(1, 2, 40, 100),
                       Reference(None, truth.mean(0), truth.std(0), 1.0, w)).reshape(2, -1).T
    assert ((fitted - truth) ** 2).sum() <= (truth**2).sum()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.mark.parametrize("kind", ["classify", "regression"])
@pytest.mark.parametrize("name", ["tests/data/photo.jpg", "samples/truth/beach.jpg", "samples/truth/livingroom.jpg"])
def test_the_true_photo_as_reference_is_never_further_from_the_truth_than_grey(name, kind, tmp_path):
    from conftest import REPO

    colorizer = untrained(kind, tmp_path)

    truth = cv2.cvtColor(cv2.imread(str(REPO / name)), cv2.COLOR_BGR2RGB)
    grey = cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY)
    grey_rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    ref = colorizer.reference(truth)
    steered = colorizer.colorize(grey, ref)
    ref.calibration = None
    palette_only = colorizer.colorize(grey, ref)
    # an untrained network, whose colour the calibration must bring nearer the truth than grey
    assert psnr(steered, truth) > psnr(grey_rgb, truth)
    assert psnr(steered, truth) > psnr(palette_only, truth)


def test_a_references_digest_tells_what_shapes_the_colour_and_ignores_the_last_bits(classify_colorizer, photo):
    ref = classify_colorizer.reference(photo)
    again = classify_colorizer.reference(photo)
    assert ref.digest() == again.digest()
    again.calibration = again.calibration + 1e-6  # what another thread count does to the fit
    assert ref.digest() == again.digest()
    assert classify_colorizer.reference(photo, strength=0.5).digest() != ref.digest()
    assert classify_colorizer.reference(photo[:, ::-1].copy() // 2).digest() != ref.digest()


def test_the_calibrated_colour_is_never_more_colourful_than_the_reference():
    # a reference on which the network was nearly grey: its map multiplies chroma by 10
    gain = np.zeros((LIGHT_BANDS + 2, 2), np.float32)
    gain[-2:] = 10 * np.eye(2)
    ref = Reference(None, np.zeros(2), np.ones(2), 1.0, gain, chroma=30.0)
    ab = np.array([[1.0, 0.0], [20.0, 10.0], [-40.0, 30.0]], np.float32).T.reshape(1, 2, 1, 3)
    out = calibrate(np.full((1, 1, 1, 3), 50.0, np.float32), ab, ref).reshape(2, 3).T
    assert np.allclose(out[0], [10.0, 0.0], atol=1e-4)  # within the reference's chroma: mapped
    assert np.allclose(np.linalg.norm(out, axis=1)[1:], [30.0, 30.0], atol=1e-3)  # beyond: held at its edge
    hue = ab[0, :, 0, 2] / np.linalg.norm(ab[0, :, 0, 2])
    assert np.allclose(out[2] / np.linalg.norm(out[2]), hue, atol=1e-5)  # same hue


def test_a_films_reference_is_fitted_at_the_film_size_and_a_photos_at_the_photo_size(tmp_path, monkeypatch):
    from media import make_clip

    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32], "head": {"kind": "classify"}})
    path = tmp_path / "m.onnx"
    to_onnx(net, ModelInfo(arch="unet", params=model.config_to_dict(net.cfg), train_size=64, photo_size=96), path)
    fitted = []
    real = Colorizer.reference

    def spy(self, rgb, strength=0.5, size=None):
        fitted.append(size or self.size)
        return real(self, rgb, strength, size)

    monkeypatch.setattr(Colorizer, "reference", spy)
    red = tmp_path / "red.png"
    Image.fromarray(plain((200, 40, 40))).save(red)
    src = make_clip(tmp_path / "in.mp4", frames=4, fps=24)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mkv"), "--model", str(path), "--codec", "ffv1",
                                  "--reference", str(red), "-q"])
    assert r.exit_code == 0, r.output
    Image.fromarray(plain((90, 90, 90))).save(tmp_path / "grey.png")
    r = CliRunner().invoke(main, ["image", str(tmp_path / "grey.png"), "-o", str(tmp_path / "out.png"), "--model",
                                  str(path), "--reference", str(red), "-q"])
    assert r.exit_code == 0, r.output
    assert fitted == [64, 96]
