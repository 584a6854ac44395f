import fractions
import re

import av
import cv2
import numpy as np
import pytest
from standins import StandInNetwork, stand_in_colorizer

from filmcolor import Colorizer, ColorizerConfig, color
from filmcolor.colorizer import small_shape
from filmcolor.errors import ModelError
from filmcolor.network import PROVIDERS, providers_for


@pytest.fixture(scope="module")
def colorizer(tiny_model) -> Colorizer:
    return Colorizer.load(tiny_model, device="cpu", size=64)


def lightness(rgb: np.ndarray) -> np.ndarray:
    peak = float(np.iinfo(rgb.dtype).max)
    return cv2.cvtColor(rgb[..., :3].astype(np.float32) / peak, cv2.COLOR_RGB2LAB)[..., 0]


def test_small_shape_keeps_aspect():
    assert small_shape(720, 1280, 128) == (128, 224)
    assert small_shape(1280, 720, 128) == (224, 128)
    assert small_shape(100, 100, 256) == (256, 256)
    assert small_shape(3000, 4000, 256) == (256, 352)  # 341 -> 352: 3 % wider, never a square
    assert small_shape(10, 1000, 32) == (32, 3200)


@pytest.mark.parametrize("kind", ["grey8", "rgb8", "rgb16", "rgba8", "greyalpha8", "grey16"])
def test_colorize_keeps_size_depth_alpha_and_lightness(colorizer, photo, kind):
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    image = {
        "grey8": grey,
        "rgb8": photo,
        "rgb16": photo.astype(np.uint16) * 257,
        "rgba8": np.dstack([photo, np.arange(photo.shape[1], dtype=np.uint8)[None].repeat(photo.shape[0], 0)]),
        "greyalpha8": np.dstack([grey, np.full_like(grey, 77)]),
        "grey16": grey.astype(np.uint16) * 257,
    }[kind]
    out = colorizer.colorize(image)
    h, w = image.shape[:2]
    has_alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    assert out.shape == (h, w, 4 if has_alpha else 3)
    assert out.dtype == image.dtype
    if has_alpha:
        assert np.array_equal(out[..., 3], image[..., -1])
    src = image[..., 0] if image.ndim == 3 and image.shape[2] == 2 else image
    src_rgb = np.dstack([src] * 3) if src.ndim == 2 else src[..., :3]
    diff = np.abs(lightness(out) - lightness(src_rgb))
    assert diff.mean() < 0.5  # output L equals input L within rounding
    assert np.percentile(diff, 99) < 2.0


def test_color_input_is_recolored_from_its_lightness(colorizer, photo):
    toned = photo.copy()
    toned[..., 2] = toned[..., 2] // 3  # a strong yellow cast
    a = colorizer.colorize(toned)
    b = colorizer.colorize(np.dstack([cv2.cvtColor(toned, cv2.COLOR_RGB2GRAY)] * 3))
    # same lightness in, nearly the same colour out: the cast is gone, not kept
    lab_a = cv2.cvtColor(a, cv2.COLOR_RGB2LAB).astype(int)
    lab_t = cv2.cvtColor(toned, cv2.COLOR_RGB2LAB).astype(int)
    assert np.abs(lab_a[..., 2] - lab_t[..., 2]).mean() > 5
    assert b.shape == a.shape


@pytest.mark.parametrize("shape", [(37, 1001), (1001, 37), (33, 33), (1, 64)])
def test_odd_sizes(colorizer, shape):
    image = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    assert colorizer.colorize(image).shape == (*shape, 3)


def test_network_sees_short_side_at_size_without_stretching(tiny_model, monkeypatch):
    c = Colorizer.load(tiny_model, device="cpu", size=64)
    seen = []
    real = c.net.run

    def spy(x, raw=False):
        seen.append(tuple(x.shape))
        return real(x, raw)

    monkeypatch.setattr(c.net, "run", spy)
    c.colorize(np.zeros((300, 1000), np.uint8))
    # short side 64, long side 213 in proportion, rounded to 224 (not stretched to 64)
    assert seen == [(1, 1, 64, 224)]
    seen.clear()
    c.ab_small(np.zeros((1, 1, 50, 70), np.float32))  # other sizes are padded, not resized
    assert seen == [(1, 1, 64, 96)]


def test_photos_run_at_the_models_photo_size_and_films_at_its_training_size():
    # a film frame passes through FrameColorizer, a photo through colorize; --size overrides both
    from filmcolor.frames import FrameColorizer, FrameLayout

    seen = []

    def paint(L):
        seen.append(L.shape[2:])
        return np.zeros((len(L), 2, *L.shape[2:]), np.float32)

    def shapes(c):
        seen.clear()
        c.colorize(np.zeros((300, 400), np.uint8))
        layout = FrameLayout(400, 300, "yuv420p", "bt709", 1, False)
        frame = av.VideoFrame.from_ndarray(np.zeros((300, 400, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = 0, fractions.Fraction(1, 25)
        FrameColorizer(c, layout, 4, []).colorize([frame], None)
        return list(seen)

    net = StandInNetwork(paint, train_size=64)
    net.info.photo_size = 128
    auto = Colorizer(net, ColorizerConfig(device="cpu"))
    assert (auto.size, auto.film_size) == (128, 64)
    assert shapes(auto) == [(128, 160), (64, 96)]
    rgb = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    seen.clear()
    auto.reference(rgb)
    auto.reference(rgb, size=auto.film_size)  # a film's reference is fitted where its frames are seen
    assert seen == [(128, 160), (64, 96)]
    given = Colorizer(net, ColorizerConfig(size=96, device="cpu"))
    assert shapes(given) == [(96, 128), (96, 128)]
    net.info.photo_size = None  # older model files: photos at the training size too
    assert shapes(Colorizer(net, ColorizerConfig(device="cpu"))) == [(64, 96), (64, 96)]
    net.info.photo_size = 100
    with pytest.raises(ValueError, match="multiple of 32"):
        Colorizer(net, ColorizerConfig(device="cpu"))


def test_bundled_model_colours_photos_at_192_and_films_at_128():
    c = Colorizer.load(device="cpu")
    assert (c.size, c.film_size) == (192, 128)


def test_ab_small_batches_and_clamps(colorizer):
    L = np.random.default_rng(0).random((5, 1, 40, 70), np.float32) * 100
    ab = colorizer.ab_small(L)
    assert ab.shape == (5, 2, 40, 70) and ab.dtype == np.float32
    rgb = np.moveaxis(color.lab_to_linear(np.concatenate([L, ab], 1).transpose(1, 0, 2, 3)), 0, 1)
    assert rgb.min() > -0.02 and rgb.max() < 1.02


def test_grey_stays_plausible_not_random(tiny_model):
    """Same picture twice: same colours (no randomness at inference)."""
    c = Colorizer.load(tiny_model, device="cpu", size=64)
    image = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    assert np.array_equal(c.colorize(image), c.colorize(image))


def test_bad_arguments(colorizer, tiny_model):
    with pytest.raises(ValueError, match="uint8 or uint16"):
        colorizer.colorize(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="expected"):
        colorizer.colorize(np.zeros((8, 8, 5), np.uint8))
    with pytest.raises(ValueError, match="multiple of 32"):
        Colorizer.load(tiny_model, size=100)
    with pytest.raises(ValueError, match="unknown device"):
        providers_for("quantum")
    with pytest.raises(ValueError, match="unknown device"):
        providers_for("cuda:x")


def test_device_auto_falls_back_to_cpu(tiny_model):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert providers_for("auto") == ["CPUExecutionProvider"]
        assert Colorizer.load(tiny_model, device="auto").device == "cpu"
        # asked for by name where it is not installed: one line that says what to install
        with pytest.raises(ValueError, match=r"no CUDAExecutionProvider; for CUDA: pip install \"filmcolor\[gpu\]\""):
            Colorizer.load(tiny_model, device="cuda")
    assert providers_for("cpu") == ["CPUExecutionProvider"]


def test_device_auto_takes_the_first_accelerator_present(monkeypatch):
    import onnxruntime as ort

    def present(*kinds):  # what an ONNX Runtime build with these providers reports
        monkeypatch.setattr(ort, "get_available_providers", lambda: [PROVIDERS[k] for k in (*kinds, "cpu")])

    present("dml", "cuda")
    assert providers_for("auto") == [(PROVIDERS["cuda"], {"device_id": 0}), "CPUExecutionProvider"]
    assert providers_for("cuda:1") == [(PROVIDERS["cuda"], {"device_id": 1}), "CPUExecutionProvider"]
    assert providers_for("cpu") == ["CPUExecutionProvider"]
    present("coreml")
    assert providers_for("auto") == providers_for("mps") == [(PROVIDERS["coreml"], {}), "CPUExecutionProvider"]
    with pytest.raises(ValueError, match="no CUDAExecutionProvider"):
        providers_for("cuda")


def test_ab_small_pads_by_reflection_to_multiples_of_32():
    seen = []

    def paint(x):  # records what the network is given
        seen.append(x.copy())
        return np.zeros((len(x), 2, *x.shape[2:]))

    c = stand_in_colorizer(paint)
    L = np.random.default_rng(0).random((2, 1, 50, 70), np.float32) * 100
    assert c.ab_small(L).shape == (2, 2, 50, 70)
    x = seen[-1]
    assert x.shape == (2, 1, 64, 96) and np.array_equal(x[..., :50, :70], L)
    # rows and columns past the edge mirror those before it (the edge pixel itself not repeated)
    assert np.array_equal(x[..., 50:64, :70], L[..., 48:34:-1, :])
    assert np.array_equal(x[..., :50, 70:96], L[..., :, 68:42:-1])
    # a picture smaller than its padding cannot be mirrored: its edge is repeated
    c.ab_small(L[..., :10, :])
    assert np.array_equal(seen[-1][..., 10:, :70], np.repeat(L[..., 9:10, :], 22, axis=2))


def test_model_files_that_are_not_models(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="not an ONNX model file"):
        Colorizer.load(bad)
    with pytest.raises(ModelError, match="no such model file"):
        Colorizer.load(tmp_path / "missing.onnx")
    ckpt = tmp_path / "run.safetensors"
    ckpt.write_bytes(b"")
    with pytest.raises(ModelError, match=r"training checkpoint; make a model file of it with python -m train.export"):
        Colorizer.load(ckpt)
    state = tmp_path / "last.pt"  # a run's last epoch: exported from its folder, train.export reads no .pt
    state.write_bytes(b"")
    with pytest.raises(ModelError, match=re.escape(f"python -m train.export {tmp_path} model.onnx --last")):
        Colorizer.load(state)


def test_threads_change_the_session_not_the_colour(tiny_model, photo):
    c = Colorizer.load(tiny_model, device="cpu", size=64)
    before = c.colorize(photo)
    c.set_threads(1)
    assert c.net.session.get_session_options().intra_op_num_threads == 1
    assert np.array_equal(c.colorize(photo), before)


def test_bundled_default_loads():
    c = Colorizer.load(device="cpu")
    assert c.info.arch in ("unet", "effunet")
    out = c.colorize(np.full((40, 60), 128, np.uint8))
    assert out.shape == (40, 60, 3)


def test_sureness_is_one_on_a_single_colour_and_nothing_on_opposite_ones():
    from filmcolor.decoding import Decoding, decode

    centres = np.array([[0, 0], [40, 0], [-40, 0], [0, 30]], np.float32)
    sure = np.array([0, 1, 0, 0], np.float32)
    split = np.array([0, 0.5, 0.5, 0], np.float32)
    lean = np.array([0, 0.6, 0.4, 0], np.float32)  # the mean, 8 units of a, is a colour neither bin holds
    assert np.allclose(decode(sure, centres, Decoding(1, 1.5, 0)), [60, 0])
    assert np.allclose(decode(sure, centres, Decoding(1, 1, 1)), [40 * 1600 / 1601, 0])
    assert np.allclose(decode(split, centres, Decoding(1, 1, 1)), [0, 0])
    plain, weighted = decode(lean, centres, Decoding(1, 1, 0)), decode(lean, centres, Decoding(1, 1, 1))
    assert np.allclose(plain, [8, 0]) and np.allclose(weighted, [8 * 64 / 1601, 0])
    with pytest.raises(ValueError, match="4 bins"):
        decode(np.ones(3, np.float32), centres, Decoding())


def test_a_decoding_given_to_the_colorizer_is_the_one_it_colours_with(photo):
    from filmcolor.decoding import Decoding

    own = Colorizer.load(device="cpu")
    assert own.info.head["kind"] == "classify"
    same = Colorizer.load(device="cpu", decoding=own.net.decoding)  # numpy, not the graph's decoding
    assert np.abs(same.colorize(photo).astype(int) - own.colorize(photo)).max() <= 1

    def chroma(c: Colorizer) -> float:
        lab = cv2.cvtColor(c.colorize(photo), cv2.COLOR_RGB2LAB).astype(np.float32)
        return float(np.hypot(lab[..., 1] - 128, lab[..., 2] - 128).mean())

    t = own.net.decoding.temperature
    plain, sure = Colorizer.load(device="cpu", decoding=Decoding(t, 1.0, 0.0)), Colorizer.load(
        device="cpu", decoding=Decoding(t, 1.0, 2.0))
    assert chroma(sure) < 0.9 * chroma(plain)
    assert chroma(Colorizer.load(device="cpu", decoding=Decoding(t, 1.5, 0.0))) > 1.3 * chroma(plain)


def test_a_regression_models_decoding_cannot_be_changed(tiny_model):
    from filmcolor.decoding import Decoding

    with pytest.raises(ValueError, match="classification"):
        Colorizer.load(tiny_model, device="cpu", decoding=Decoding(1, 1.2, 0))
