"""The int8 copy of a model (train.export --int8) and which file films and photos run."""

import shutil

import cv2
import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from media import make_clip

from filmcolor import Colorizer, cpu
from filmcolor import network as network_module
from filmcolor.cli import main
from filmcolor.colorizer import shrink, small_shape
from filmcolor.modelspec import ModelSpec
from filmcolor.network import DEFAULT_PATH, INT8_PATH, Network, bundled_path
from train import checkpoint, model
from train.export import main as export_main
from train.export import to_onnx

REPO_PHOTO = "tests/data/photo.jpg"


def photo_L(size: int) -> np.ndarray:
    """The test photo's lightness as the network sees it at ``size``: (1, 1, h, w) float32."""
    from filmcolor import color

    rgb = cv2.cvtColor(cv2.imread(REPO_PHOTO), cv2.COLOR_BGR2RGB)
    L = color.rgb_to_lab(rgb)[..., 0].astype(np.float32)
    return shrink(L, *small_shape(*L.shape, size))[None, None].copy()


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    """A small effunet with a classification head, BatchNorm statistics not the identity."""
    torch.manual_seed(0)
    net = model.build("effunet", {"encoder": "lite0", "decoder": [32, 24, 16, 16], "head": {"kind": "classify"}})
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("int8") / "float.onnx"
    to_onnx(net.eval(), checkpoint.ModelInfo(arch="effunet", params=model.config_to_dict(net.cfg)), path)
    return path


@pytest.fixture
def calibration(tmp_path):
    folder = tmp_path / "photos"
    (folder / "held").mkdir(parents=True)
    shutil.copy(REPO_PHOTO, folder / "a.jpg")
    img = cv2.imread(REPO_PHOTO)
    cv2.imwrite(str(folder / "b.png"), cv2.flip(img, 1))
    cv2.imwrite(str(folder / "held" / "c.png"), img[::2, ::2])
    return folder


def test_int8_export_quantizes_the_body_and_keeps_stem_and_head_float(tmp_path, float_model, calibration):
    out = tmp_path / "q.onnx"
    r = CliRunner().invoke(export_main, [str(float_model), str(out), "--int8", "--calibrate", str(calibration),
                                         "--exclude", str(calibration / "held")])
    assert r.exit_code == 0, r.output
    assert "int8" in r.output and "on 2 calibration photos" in r.output  # the excluded one left out
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    q, f = Network(out, device="cpu"), Network(float_model, device="cpu")
    assert q.precision == "int8" and f.precision == "float32"
    assert q.info == f.info and q.stride == f.stride and np.array_equal(q.ab_centres, f.ab_centres)

    graph = onnx.load(str(out)).graph
    made_by = {o: n for n in graph.node for o in n.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]

    def quantized(conv) -> bool:  # its weight comes through a DequantizeLinear
        return conv.input[1] in made_by and made_by[conv.input[1]].op_type == "DequantizeLinear"

    assert sum(map(quantized, convs)) >= len(convs) - 4  # all but the stem and the head's two
    assert not quantized(convs[0])  # the stem
    pool = next(i for i, n in enumerate(graph.node) if n.op_type == "AveragePool")
    head = [n for n in graph.node[pool:] if n.op_type in ("Conv", "Exp", "ReduceMax", "Resize", "Div")]
    assert head and not any(i in made_by and made_by[i].op_type == "DequantizeLinear" for n in head for i in n.input)

    L = photo_L(128)
    want, got = f.run(L)[0], q.run(L)[0]
    assert got.shape == want.shape
    # close to the float model's colour, relative to how much that colour varies
    assert np.abs(got - want).mean() < 0.1 * want.std(), (np.abs(got - want).mean(), want.std())


@pytest.mark.parametrize("args,says", [
    (["--int8"], "--int8 needs --calibrate DIR"),
    (["--calibrate", "{photos}"], "--calibrate and --exclude go with --int8"),
    (["--int8", "--calibrate", "{photos}", "--out-suffix", ".safetensors"], "an int8 model is an .onnx file"),
    (["--int8", "--calibrate", "{photos}/held"], "--calibrate {photos}/held: no such folder"),
    (["--int8", "--calibrate", "{empty}"], "--calibrate {empty}: no images found"),
    (["--int8", "--calibrate", "{photos}", "--exclude", "{photos}"], "every calibration photo lies in a --exclude"),
    ([], "already a model file"),
])
def test_int8_export_refuses_what_it_cannot_do_in_one_line(tmp_path, float_model, calibration, args, says):
    (tmp_path / "empty").mkdir()
    shutil.rmtree(calibration / "held")
    out = tmp_path / "q.onnx"
    if "--out-suffix" in args:
        i = args.index("--out-suffix")
        out, args = out.with_suffix(args[i + 1]), args[:i]
    args = [a.format(photos=calibration, empty=tmp_path / "empty") for a in args]
    says = says.format(photos=calibration, empty=tmp_path / "empty")
    r = CliRunner().invoke(export_main, [str(float_model), str(out), *args])
    assert r.exit_code == 2 and says in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not out.exists()


def test_bundled_int8_model_is_the_float_model_quantized():
    q, f = Network(INT8_PATH, device="cpu"), Network(DEFAULT_PATH, device="cpu")
    assert q.precision == "int8" and f.precision == "float32"
    assert q.info.arch == f.info.arch and q.info.train_size == f.info.train_size
    assert q.info.photo_size == f.info.photo_size and np.array_equal(q.ab_centres, f.ab_centres)
    # the same network and temperature; a higher gain gives back the colourfulness int8 takes
    # (README, "Speed and memory")
    assert q.decoding.temperature == f.decoding.temperature and q.decoding.gain > f.decoding.gain
    assert {k: v for k, v in q.info.params.items() if k != "head"} == {k: v for k, v in f.info.params.items()
                                                                      if k != "head"}
    assert INT8_PATH.stat().st_size < DEFAULT_PATH.stat().st_size / 3
    for size in (128, 192):  # films' size, photos'
        L = photo_L(size)
        want = f.run(L)[0]
        d = np.abs(q.run(L)[0] * np.float32(f.decoding.gain / q.decoding.gain) - want)
        assert d.mean() < 1.0 and np.percentile(d, 99) < 6, (size, d.mean(), np.percentile(d, 99))


@pytest.fixture
def int8_cpu(monkeypatch):
    """A CPU with int8 dot-product instructions (cpu.fast_int8), whatever this one has."""
    monkeypatch.setattr(cpu, "fast_int8", lambda: True)


def test_films_on_the_cpu_run_the_int8_copy_and_photos_the_float_model(tiny_model, int8_cpu):
    assert bundled_path("cpu", films=True) == INT8_PATH
    assert bundled_path("cpu") == DEFAULT_PATH
    assert Colorizer.load(device="cpu", films=True).net.path == INT8_PATH
    assert Colorizer.load(device="cpu").net.path == DEFAULT_PATH
    assert Colorizer.load(tiny_model, device="cpu", films=True).net.path == tiny_model  # a file named is run
    assert ModelSpec(None, "cpu", films=True).load().net.precision == "int8"


def test_a_cpu_without_int8_dot_products_runs_films_on_the_float_model(monkeypatch, tmp_path, loaded):
    # there the int8 copy is slower than the float file (cpu.py's docstring)
    monkeypatch.setattr(cpu, "fast_int8", lambda: False)
    assert bundled_path("cpu", films=True) == DEFAULT_PATH
    assert Colorizer.load(device="cpu", films=True).net.precision == "float32"
    src = make_clip(tmp_path / "in.mp4", frames=6, size=(64, 48))
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "out.mp4"), "--device", "cpu", "-q",
                                  "--size", "32", "--segment-seconds", "0"])
    assert r.exit_code == 0, r.output
    assert loaded[-1] == DEFAULT_PATH and INT8_PATH not in loaded


@pytest.mark.parametrize("text, fast", [
    ("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw\n", False),  # AVX-512 without VNNI
    ("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n", True),
    ("flags\t\t: fpu sse2 avx2 avx_vnni\n", True),  # Alder Lake and later: VNNI on 256 bits
    ("processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32\n", False),  # Cortex-A53/A72
    ("processor\t: 0\nFeatures\t: fp asimd aes asimddp sha512\n", True),  # Neoverse, Graviton 2+
    ("", False),
])
def test_int8_dot_products_are_read_from_the_cpus_flags(tmp_path, monkeypatch, text, fast):
    (tmp_path / "cpuinfo").write_text(text)
    flags = cpu.cpuinfo_flags(tmp_path / "cpuinfo")
    assert bool(flags & cpu.INT8_DOT_FLAGS) is fast
    # and so decides, where numpy found nothing either
    monkeypatch.setattr(cpu, "numpy_flags", set)
    monkeypatch.setattr(cpu, "cpuinfo_flags", lambda: flags)
    monkeypatch.setattr(cpu.platform, "system", lambda: "Linux")
    cpu.fast_int8.cache_clear()
    try:
        assert cpu.fast_int8() is fast
    finally:
        cpu.fast_int8.cache_clear()


def test_numpy_and_linux_agree_on_this_cpu():
    # numpy detects through cpuid on every OS; /proc/cpuinfo is Linux's word for the same bits
    linux = cpu.cpuinfo_flags()
    if not linux:
        pytest.skip("no /proc/cpuinfo")
    assert cpu.numpy_flags() == linux & set(cpu.NUMPY_NAMES.values())


def test_without_the_int8_file_films_run_the_float_model(monkeypatch, tmp_path, int8_cpu):
    monkeypatch.setattr(network_module, "INT8_PATH", tmp_path / "missing.onnx")
    assert network_module.bundled_path("cpu", films=True) == DEFAULT_PATH


@pytest.fixture
def loaded(monkeypatch):
    """The model files Network opens, in order."""
    paths = []
    real = Network.__init__

    def spy(self, path=None, *a, **k):
        paths.append(DEFAULT_PATH if path is None else path)
        real(self, path, *a, **k)

    monkeypatch.setattr(Network, "__init__", spy)
    return paths


def test_the_video_command_colours_with_the_int8_copy(tmp_path, loaded, int8_cpu):
    src = make_clip(tmp_path / "in.mp4", frames=6, size=(64, 48))
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "out.mp4"), "--device", "cpu", "-q",
                                  "--size", "32", "--segment-seconds", "0"])
    assert r.exit_code == 0, r.output
    assert loaded == [INT8_PATH]


def test_evaluate_colours_photos_with_the_float_model_and_films_with_the_int8_copy(tmp_path, monkeypatch, int8_cpu):
    from filmcolor import evaluate

    used = {}
    for name in ("evaluate_photo", "evaluate_video"):
        real = getattr(evaluate, name)
        monkeypatch.setattr(evaluate, name, lambda c, p, o, real=real, name=name: used.setdefault(name, c.net.path)
                            and real(c, p, o))
    shutil.copy(REPO_PHOTO, tmp_path / "p.jpg")
    make_clip(tmp_path / "c.mp4", frames=4, size=(64, 48))
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "p.jpg"), str(tmp_path / "c.mp4"), "--device", "cpu",
                                  "-q", "--size", "32"])
    assert r.exit_code == 0, r.output
    assert used == {"evaluate_photo": DEFAULT_PATH, "evaluate_video": INT8_PATH}


# ONNX Runtime warns of the absent provider the fixture names; that absence is the point
cuda_absent = pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider' is not in available")


@pytest.fixture
def failing_gpu(monkeypatch):
    """A CUDA provider that is installed but cannot start (no GPU, no CUDA libraries)."""
    real = network_module.providers_for

    def providers(name):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if name == "auto" else real(name)

    monkeypatch.setattr(network_module, "providers_for", providers)


@cuda_absent
def test_a_gpu_that_cannot_start_leaves_films_on_the_int8_copy(failing_gpu, int8_cpu):
    assert bundled_path("auto", films=True) == DEFAULT_PATH  # as far as can be told before loading
    c = Colorizer.load(device="auto", films=True)
    assert c.device == "cpu" and c.net.path == INT8_PATH


@cuda_absent
def test_segments_and_the_resume_use_the_file_the_command_loaded(tmp_path, failing_gpu, loaded, monkeypatch,
                                                                 int8_cpu):
    from filmcolor import manifest

    seen = []
    real = manifest.identity
    monkeypatch.setattr(manifest, "identity", lambda src, opts, model, s: seen.append(model) or real(src, opts, model, s))
    src = make_clip(tmp_path / "in.mp4", frames=24, size=(64, 48))
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "out.mp4"), "-q", "--size", "32",
                                  "--segment-seconds", "0.4"])
    assert r.exit_code == 0, r.output
    assert loaded[-1] == INT8_PATH and set(loaded) <= {DEFAULT_PATH, INT8_PATH}
    assert seen and all(m.path == str(INT8_PATH) for m in seen)
