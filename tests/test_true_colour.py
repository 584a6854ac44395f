"""The colour that ends up in output files, read back by code that is not
filmcolor's: a stand-in network paints one known a/b everywhere, and the
output, decoded independently (scikit-image's LAB, PyAV/swscale's YUV with
the matrix and range the output file declares), must carry that a/b.

A swapped a and b, a wrong YUV matrix or a wrong range each moves the colour
read back by more than the tolerance (checked by breaking them on purpose).
"""

from __future__ import annotations

import shutil

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from media import make_clip, stream_info
from PIL import Image
from skimage.color import rgb2lab
from standins import constant, stand_in_colorizer

from filmcolor import Colorizer
from filmcolor.cli import main
from filmcolor.video import VideoOptions, colorize_video

A, B = 24.0, -16.0  # a magenta-blue: a and b swapped would read as yellow-red
# LAB units, on the median over mid-grey pixels. Measured: photos within 0.3
# (JPEG 0.7), films within 0.4; BT.601 forced on a BT.709 film reads 2.1 off.
TOLERANCE = 1.0


def constant_colorizer() -> Colorizer:
    """The a/b (A, B) everywhere, at the input's size."""
    return stand_in_colorizer(constant(A, B))


def ab_read_back(rgb: np.ndarray) -> tuple[float, float]:
    """Median a, b of an 8- or 16-bit RGB picture over pixels of middling
    lightness (30..80, where (A, B) is inside the sRGB gamut)."""
    rgb = rgb.astype(np.float64) / (65535 if rgb.dtype == np.uint16 else 255)
    lab = rgb2lab(rgb)
    mid = (lab[..., 0] > 30) & (lab[..., 0] < 80)
    assert mid.mean() > 0.3, "the test picture should be mostly mid-grey"
    return float(np.median(lab[..., 1][mid])), float(np.median(lab[..., 2][mid]))


def grey_ramp(h: int = 96, w: int = 128, bits: int = 8) -> np.ndarray:
    top = 65535 if bits == 16 else 255
    ramp = np.linspace(0.3, 0.75, w)[None, :].repeat(h, 0)
    ramp += np.linspace(0, 0.05, h)[:, None]  # real 16-bit detail, not 8-bit values times 257
    return (ramp * top).round().astype(np.uint16 if bits == 16 else np.uint8)


def test_colorizer_puts_the_networks_a_and_b_where_they_belong():
    a, b = ab_read_back(constant_colorizer().colorize(grey_ramp()))
    assert a == pytest.approx(A, abs=TOLERANCE) and b == pytest.approx(B, abs=TOLERANCE)


@pytest.mark.parametrize("name,bits", [("p.jpg", 8), ("p.png", 16), ("p.tif", 8), ("p.tif", 16)])
def test_filmcolor_image_writes_the_networks_color(tmp_path, monkeypatch, name, bits):
    monkeypatch.setattr(Colorizer, "load", classmethod(lambda cls, *a, **k: constant_colorizer()))
    src = tmp_path / name
    grey = grey_ramp(bits=bits)
    cv2.imwrite(str(src), grey)
    r = CliRunner().invoke(main, ["image", str(src), "-q"])
    assert r.exit_code == 0, r.output
    out = tmp_path / f"p_color{src.suffix}"
    if bits == 16:
        back = cv2.cvtColor(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
        assert back.dtype == np.uint16
    else:
        back = np.asarray(Image.open(out).convert("RGB"))
    a, b = ab_read_back(back)
    assert a == pytest.approx(A, abs=TOLERANCE) and b == pytest.approx(B, abs=TOLERANCE)


SPACES = {1: "ITU709", 5: "ITU601", 6: "ITU601", 9: "BT2020"}
RANGES = {"tv": 1, "pc": 2}


def decode_as_declared(path) -> list[np.ndarray]:
    """RGB frames of ``path``, converted with the matrix and range its stream declares (ffprobe)."""
    info = [s for s in stream_info(path) if s["codec_type"] == "video"][0]
    space = {"bt709": 1, "bt470bg": 5, "smpte170m": 6, "bt2020nc": 9}.get(info.get("color_space"), 5)
    rng = RANGES.get(info.get("color_range"), 1)
    deep = "10" in info["pix_fmt"]
    with av.open(str(path)) as c:
        return [f.reformat(format="rgb48le" if deep else "rgb24", src_colorspace=SPACES[space],
                           src_color_range=rng).to_ndarray() for f in c.decode(video=0)]


@pytest.mark.skipif(not shutil.which("ffprobe"), reason="needs ffprobe")
@pytest.mark.parametrize(
    "pix_fmt,colorspace,color_range",
    [
        ("yuv420p", 5, 1),  # BT.601, limited
        ("yuv420p", 1, 1),  # BT.709, limited
        ("yuv420p", 1, 2),  # BT.709, full
        ("yuvj420p", None, 2),  # JPEG-style full range, untagged matrix
        ("yuv420p10le", 9, 1),  # BT.2020, limited, 10 bit
        ("nv12", 1, 1),
        ("gbrp10le", None, None),  # RGB films (FFV1 of a scan or an editor's export)
        ("bgr0", None, None),
    ],
)
def test_films_carry_the_networks_color_in_every_matrix_and_range(tmp_path, pix_fmt, colorspace, color_range):
    src = make_clip(tmp_path / "in.mkv", frames=6, size=(128, 96), codec="libx264" if pix_fmt in ("nv12", "yuvj420p") else "ffv1",
                    pix_fmt=pix_fmt, colorspace=colorspace, color_range=color_range)
    out = tmp_path / "out.mkv"  # the source's own colour is replaced: only its luma is used
    colorize_video(constant_colorizer(), src, out, VideoOptions(codec="ffv1", smooth=False))
    for rgb in decode_as_declared(out):
        a, b = ab_read_back(rgb)
        assert a == pytest.approx(A, abs=TOLERANCE) and b == pytest.approx(B, abs=TOLERANCE), (a, b)
