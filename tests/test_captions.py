"""A photo's captions and credits reach the colorized file (issue 22, item 3):
XMP, IPTC, JPEG comments, PNG text, gamma and chromaticity, read back with
Pillow; what a format cannot hold is said; a profile that cannot describe a
colour picture is replaced by sRGB's, and said."""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms, PngImagePlugin

from filmcolor.cli import main

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>Harbour, 1931'
       b'</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>')
CAPTION = b"Fishing boats in the harbour"
IPTC = b"\x1c\x02\x78" + struct.pack(">H", len(CAPTION)) + CAPTION  # 2:120, the caption
APP13 = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(IPTC)) + IPTC


@pytest.fixture
def run(tiny_model):
    def invoke(*args):
        return CliRunner().invoke(main, ["image", *map(str, args), "--model", str(tiny_model), "--size", "64"])

    return invoke


def grey(h=48, w=64) -> np.ndarray:
    return np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))


def with_app13(jpeg: bytes) -> bytes:
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(APP13) + 2) + APP13 + jpeg[2:]


def segments(path) -> dict:
    with Image.open(path) as im:
        return {"xmp": im.info.get("xmp"), "comment": im.info.get("comment"),
                "app13": [data for marker, data in im.applist if marker == "APP13"], "icc": im.info.get("icc_profile")}


def icc_space(icc: bytes) -> str:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()


def test_a_jpegs_xmp_iptc_and_comment_go_through_and_a_grey_profile_becomes_srgb(run, tmp_path):
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # a profile of no RGB, as a Gray one
    buf = io.BytesIO()
    Image.fromarray(grey()).save(buf, format="JPEG", xmp=XMP, comment=b"Scanned 2019", icc_profile=lab)
    src = tmp_path / "scan.jpg"
    src.write_bytes(with_app13(buf.getvalue()))
    out = tmp_path / "out.jpg"
    r = run(src, "-o", out)
    assert r.exit_code == 0, r.output
    got = segments(out)
    assert got["xmp"] == XMP and got["comment"] == b"Scanned 2019" and got["app13"] == [APP13]
    assert icc_space(got["icc"]) == "RGB"
    assert "its Lab ICC profile does not describe a colour picture: written with an sRGB profile" in r.output
    # BMP holds none of it: said, naming what
    r = run(src, "-o", tmp_path / "out.bmp")
    assert r.exit_code == 0 and "BMP output cannot hold the source's XMP; IPTC; comment: not kept" in r.output


@pytest.mark.parametrize("deep", [False, True])
def test_png_text_gamma_and_chromaticity_go_through(run, tmp_path, deep):
    src = tmp_path / "scan.png"
    chrm = (0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06)
    if deep:  # 16-bit: OpenCV writes the output, the chunks are put in by filmcolor
        ok, buf = cv2.imencode(".png", (grey().astype(np.uint16) * 257))
        assert ok
        png = bytearray(buf.tobytes())
        from filmcolor.captions import _chunk

        extra = (_chunk(b"gAMA", struct.pack(">I", 45455)) + _chunk(b"cHRM", struct.pack(">8I", *(round(v * 1e5) for v in chrm)))
                 + _chunk(b"tEXt", b"Title\x00Harbour"))
        src.write_bytes(bytes(png[:33]) + extra + bytes(png[33:]))
    else:
        info = PngImagePlugin.PngInfo()
        info.add_text("Title", "Harbour")
        info.add(b"gAMA", struct.pack(">I", 45455))
        info.add(b"cHRM", struct.pack(">8I", *(round(v * 1e5) for v in chrm)))
        Image.fromarray(grey()).save(src, pnginfo=info)
    out = tmp_path / "out.png"
    r = run(src, "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.text.get("Title") == "Harbour"
        assert abs(im.info["gamma"] - 0.45455) < 1e-5
        assert np.allclose(im.info["chromaticity"], chrm, atol=1e-5)
    assert out.read_bytes()[24] == (16 if deep else 8)  # the header's bit depth (Pillow reads 16-bit RGB as 8)
    assert "cannot hold" not in r.output


def test_a_16_bit_tiff_master_says_its_credits_are_not_kept(run, tmp_path):
    from PIL import TiffImagePlugin

    src = tmp_path / "master.tif"
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[315] = "A. Photographer"  # Artist
    info[33432] = "(c) The Archive"  # Copyright
    Image.fromarray(grey().astype(np.uint16) * 257).save(src, tiffinfo=info)
    with Image.open(src) as im:
        assert im.mode.startswith("I;16") and im.getexif().get(315) == "A. Photographer"
    r = run(src, "-o", tmp_path / "out.tif")
    assert r.exit_code == 0, r.output
    assert "16-bit TIFF output cannot hold the source's caption, artist, copyright and date" in r.output
