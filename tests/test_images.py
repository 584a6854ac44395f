import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO
from PIL import Image, ImageCms

from filmcolor.cli import main
from filmcolor.errors import InputError
from filmcolor.images import Picture, plan_jobs, read_picture, write_picture

PHOTO = REPO / "tests" / "data" / "photo.jpg"


@pytest.fixture
def run(tiny_model):
    """Invoke `filmcolor image ...` with the tiny model; returns the click Result."""

    def invoke(*args):
        return CliRunner().invoke(main, ["image", *map(str, args), "--model", str(tiny_model), "--size", "64"])

    return invoke


def rgb_of(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def make(path: Path, array: np.ndarray, **save) -> Path:
    if array.dtype == np.uint16:
        bgr = array if array.ndim == 2 else cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
        assert cv2.imwrite(str(path), bgr)
    else:
        Image.fromarray(array).save(path, **save)
    return path


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk, for hand-made PNG files."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def grey(h=48, w=64) -> np.ndarray:
    return np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))


# ---------------------------------------------------------------- reading


def test_exif_orientation_is_applied_and_reset(tmp_path):
    im = Image.fromarray(grey(20, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to view
    exif[0x010F] = "ACME camera"
    path = tmp_path / "o.jpg"
    im.save(path, exif=exif.tobytes())
    pic = read_picture(path)
    assert pic.pixels.shape == (40, 20)
    back = Image.Exif()
    back.load(pic.exif)
    assert back[0x0112] == 1 and back[0x010F] == "ACME camera"


def test_sixteen_bit_png_stays_sixteen_bit(tmp_path):
    a = (np.random.default_rng(0).random((30, 40, 3)) * 65535).astype(np.uint16)
    pic = read_picture(make(tmp_path / "a.png", a))
    assert pic.pixels.dtype == np.uint16 and np.array_equal(pic.pixels, a)


def test_read_refuses_huge_pictures_from_the_header(tmp_path):
    # a real JPEG whose header claims 30000 x 30000: refused before decoding
    buf = io.BytesIO()
    Image.fromarray(grey(16, 16)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2
    path = tmp_path / "huge.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="30000x30000 is 900 megapixels"):
        read_picture(path)


def test_pillows_own_guard_stays_on_for_everyone_else(tmp_path):
    path = make(tmp_path / "p.png", grey())
    default = Image.MAX_IMAGE_PIXELS
    assert default is not None  # importing filmcolor did not switch it off
    read_picture(path)
    assert Image.MAX_IMAGE_PIXELS == default


def test_read_refuses_a_huge_png_without_decoding_it(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)  # 8-bit grey
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    path = tmp_path / "huge.png"
    path.write_bytes(data)  # pixel data far too short: decoding would fail, the header check comes first
    with pytest.raises(InputError, match="30000x30000 is 900 megapixels"):
        read_picture(path)


def test_a_library_complaint_is_quoted_in_the_error_not_printed(tmp_path, capfd):
    # a PNG whose pixel data is short: libpng prints "libpng error: ..." on descriptor 2 itself
    ihdr = struct.pack(">IIBBBBB", 300, 200, 8, 0, 0, 0, 0)
    path = tmp_path / "short.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))
    with pytest.raises(InputError, match=r"truncated or corrupt picture \(libpng error: Not enough image data\)"):
        read_picture(path)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    "content,match",
    [(b"hello, not a picture", "not a picture"), (b"", "not a picture")],
)
def test_read_not_a_picture(tmp_path, content, match):
    p = tmp_path / "x.jpg"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_picture(p)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_read_truncated(tmp_path, suffix):
    good = make(tmp_path / f"g{suffix}", np.dstack([grey(200, 300)] * 3))
    bad = tmp_path / f"t{suffix}"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError):
        read_picture(bad)


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def explode(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(KeyboardInterrupt):
        write_picture(target, Picture(np.zeros((4, 4, 3), np.uint8), "PNG"))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- planning


def test_plan_names(tmp_path):
    a = make(tmp_path / "a.jpg", grey())
    (tmp_path / "d" / "sub").mkdir(parents=True)
    make(tmp_path / "d" / "b.png", grey())
    make(tmp_path / "d" / "sub" / "c.png", grey())
    assert plan_jobs([a], None)[0].dst == tmp_path / "a_color.jpg"
    assert plan_jobs([a], tmp_path / "x.jpg")[0].dst == tmp_path / "x.jpg"
    flat = plan_jobs([tmp_path / "d"], tmp_path / "out")
    assert [j.dst for j in flat] == [tmp_path / "out" / "b.png"]
    deep = plan_jobs([tmp_path / "d"], tmp_path / "out", recursive=True)
    assert [j.dst for j in deep] == [tmp_path / "out" / "b.png", tmp_path / "out" / "sub" / "c.png"]


def test_plan_refuses_to_overwrite_inputs(tmp_path):
    a = make(tmp_path / "a.jpg", grey())
    assert "is an input" in plan_jobs([a], a)[0].error
    b = make(tmp_path / "sub" / "a.jpg", grey()) if (tmp_path / "sub").mkdir() is None else None
    jobs = plan_jobs([a, b], tmp_path / "out")
    assert jobs[0].error is None and "another input" in jobs[1].error


def test_folder_scan_skips_earlier_results(tmp_path):
    make(tmp_path / "a.jpg", grey())
    make(tmp_path / "a_color.jpg", grey())
    make(tmp_path / "z_color.jpg", grey())  # no z.jpg: a picture of its own
    assert sorted(j.src.name for j in plan_jobs([tmp_path], None)) == ["a.jpg", "z_color.jpg"]


# ---------------------------------------------------------------- the command


def test_single_file_beside_the_input(run, tmp_path):
    src = make(tmp_path / "p.jpg", cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2GRAY))
    r = run(src)
    assert r.exit_code == 0, r.output
    out = rgb_of(tmp_path / "p_color.jpg")
    assert out.shape == (240, 320, 3)
    assert "wrote" in r.output


def test_output_gets_the_permissions_of_a_new_file(run, tmp_path):
    src = make(tmp_path / "p.jpg", grey())
    assert run(src).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "p_color.jpg").stat().st_mode & 0o777 == 0o666 & ~umask


def test_output_file_and_quiet(run, tmp_path):
    src = make(tmp_path / "p.png", grey())
    r = run(src, "-o", tmp_path / "colour.png", "-q")
    assert r.exit_code == 0 and r.output == ""
    assert rgb_of(tmp_path / "colour.png").shape == (48, 64, 3)


@pytest.mark.parametrize(
    "name,array,mode",
    [
        ("a.jpg", np.dstack([grey()] * 3), "RGB"),
        ("a.png", grey(), "RGB"),
        ("a.webp", np.dstack([grey()] * 3), "RGB"),
        ("a.bmp", np.dstack([grey()] * 3), "RGB"),
        ("a.tif", grey(), "RGB"),
        ("rgba.png", np.dstack([grey()] * 3 + [np.full((48, 64), 99, np.uint8)]), "RGBA"),
    ],
)
def test_formats_keep_their_kind(run, tmp_path, name, array, mode):
    src = make(tmp_path / name, array)
    r = run(src, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    out = Image.open(tmp_path / "out" / name)
    assert out.format == Image.open(src).format
    assert out.mode == mode and out.size == (64, 48)
    if mode == "RGBA":
        assert (np.asarray(out)[..., 3] == 99).all()


@pytest.mark.parametrize("name", ["deep.png", "deep.tif"])
def test_sixteen_bit_outputs(run, tmp_path, name):
    a = (np.tile(np.linspace(0, 65535, 64), (48, 1))).astype(np.uint16)
    src = make(tmp_path / name, a)
    r = run(src, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    back = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (48, 64, 3)


def test_metadata_is_kept(run, tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "ACME camera"
    src = tmp_path / "m.jpg"
    Image.fromarray(grey()).save(src, exif=exif.tobytes(), icc_profile=icc)
    assert run(src).exit_code == 0
    out = Image.open(tmp_path / "m_color.jpg")
    assert out.info.get("icc_profile") == icc
    assert out.getexif()[0x010F] == "ACME camera"


@pytest.mark.parametrize("name", ["scan.jpg", "scan.png", "scan.tif", "scan.bmp"])
def test_scanning_resolution_is_kept(run, tmp_path, name):
    src = make(tmp_path / name, np.dstack([grey()] * 3), dpi=(600, 300))
    assert run(src, "-o", tmp_path / "out").exit_code == 0
    dpi = Image.open(tmp_path / "out" / name).info.get("dpi")
    assert dpi is not None and np.allclose(dpi, (600, 300), atol=0.01)


@pytest.mark.parametrize("name", ["deep.png", "deep.tif"])
def test_sixteen_bit_scans_keep_their_resolution(run, tmp_path, name):
    a = np.dstack([np.tile(np.linspace(0, 65535, 64), (48, 1)).astype(np.uint16)] * 3)
    bgr = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_TIFF_RESUNIT, 2, cv2.IMWRITE_TIFF_XDPI, 1200, cv2.IMWRITE_TIFF_YDPI, 1200]
    src = tmp_path / name
    if name.endswith(".tif"):
        assert cv2.imwrite(str(src), bgr, params)
    else:  # OpenCV cannot give a PNG a resolution: filmcolor's own writer does
        write_picture(src, Picture(a, "PNG", dpi=(1200.0, 1200.0)))
    assert read_picture(src).dpi is not None
    assert run(src, "-o", tmp_path / "out").exit_code == 0
    out = tmp_path / "out" / name
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert np.allclose(Image.open(out).info["dpi"], (1200, 1200), atol=0.01)


def test_a_rotated_scan_swaps_its_resolution(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    src = make(tmp_path / "r.jpg", grey(20, 40), dpi=(600, 300), exif=exif.tobytes())
    assert read_picture(src).dpi == (300, 600)


def test_tiff_keeps_camera_and_date_but_not_its_old_layout(run, tmp_path):
    tags = Image.Exif()
    tags[0x010F], tags[0x0110], tags[0x0132] = "Nikon", "LS-5000", "2003:04:05 06:07:08"
    src = make(tmp_path / "t.tif", np.dstack([grey()] * 3), exif=tags.tobytes(), compression="tiff_lzw")
    assert run(src).exit_code == 0
    out = Image.open(tmp_path / "t_color.tif")
    got = out.getexif()
    assert (got[0x010F], got[0x0110], got[0x0132]) == ("Nikon", "LS-5000", "2003:04:05 06:07:08")
    assert out.size == (64, 48) and np.asarray(out).shape == (48, 64, 3)  # its own strips, not the source's


def test_compare_writes_side_by_side(run, tmp_path):
    src = make(tmp_path / "c.png", grey())
    assert run(src, "--compare").exit_code == 0
    cmp = rgb_of(tmp_path / "c_color_compare.png")
    assert cmp.shape == (48, 128, 3)
    left = cmp[:, :64]
    assert (left[..., 0] == left[..., 1]).all()  # the grey half is grey


def test_size_model_and_device_options(tiny_model, tmp_path):
    src = make(tmp_path / "s.png", grey(100, 300))
    r = CliRunner().invoke(main, ["image", str(src), "--model", str(tiny_model), "--size", "32", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["image", str(src), "--model", str(tiny_model), "--size", "50"])
    assert r.exit_code == 2 and "multiple of 32" in r.output
    r = CliRunner().invoke(main, ["image", str(src), "--model", str(tmp_path / "none.onnx")])
    assert r.exit_code == 1 and "no such model file" in r.output


def test_batch_goes_on_past_bad_files(run, tmp_path):
    make(tmp_path / "in" / "good1.png", grey()) if (tmp_path / "in").mkdir() is None else None
    make(tmp_path / "in" / "good2.jpg", np.dstack([grey()] * 3))
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not finished")
    (tmp_path / "in" / "notes.png").write_text("text")
    r = run(tmp_path / "in", tmp_path / "missing.jpg", "-o", tmp_path / "out")
    assert r.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.png", "good2.jpg"]
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert any("missing.jpg: no such file" in e for e in errors)
    assert "2 colorized" in r.output and "3 failed" in r.output


def test_unwritable_output_folder(run, tmp_path):
    src = make(tmp_path / "p.png", grey())
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    r = run(src, "-o", blocker / "out.png")
    assert r.exit_code == 1
    assert "error:" in r.output and "Traceback" not in r.output
    assert not list(tmp_path.glob("**/*.part*"))


def test_one_output_file_for_several_inputs_is_refused(run, tmp_path):
    a, b = make(tmp_path / "a.png", grey()), make(tmp_path / "b.png", grey())
    r = run(a, b, "-o", tmp_path / "single.jpg")
    assert r.exit_code == 1 and "names one picture, but there are 2 inputs" in r.output
    assert not (tmp_path / "single.jpg").exists()


def test_a_rerun_says_what_it_skips_and_replaces(run, tmp_path):
    make(tmp_path / "a.png", grey())
    make(tmp_path / "b.png", grey())
    first = run(tmp_path)
    assert first.exit_code == 0 and "note:" not in first.output
    again = run(tmp_path)
    assert again.exit_code == 0, again.output
    assert "skipping 2 earlier results" in again.output and "replacing 2 existing outputs" in again.output


@pytest.mark.parametrize("name,says", [("reel.mp4", "this is a film: use `filmcolor video"),
                                       ("anim.gif", "GIF is not supported")])
def test_the_input_not_the_output_is_blamed(run, tmp_path, name, says):
    src = tmp_path / name
    src.write_bytes(b"\x00" * 64)
    r = run(src)
    assert r.exit_code == 1 and says in r.output and "unknown picture format" not in r.output


@pytest.mark.parametrize("name", ["album.tif", "anim.webp"])
def test_several_pages_are_refused_not_cut_to_the_first(run, tmp_path, name):
    pages = [Image.fromarray(grey()), Image.fromarray(255 - grey())]
    pages[0].save(tmp_path / name, save_all=True, append_images=pages[1:])
    r = run(tmp_path / name)
    assert r.exit_code == 1 and "has 2 pages or frames" in r.output
    assert not list(tmp_path.glob("*_color*"))


def test_limit_option(run, tmp_path):
    src = make(tmp_path / "p.png", grey(400, 400))
    r = run(src, "--max-megapixels", "0.1")
    assert r.exit_code == 1 and "above the limit of 0.1" in r.output
    assert "400x400 is 0.16 megapixels" in r.output


def test_debug_shows_the_traceback(tiny_model, tmp_path):
    src = make(tmp_path / "x.png", grey())
    r = CliRunner().invoke(main, ["image", str(src), "--model", str(tmp_path / "no.safetensors"), "--debug"])
    assert r.exit_code != 0 and r.exception is not None and not isinstance(r.exception, SystemExit)


def test_debug_shows_a_failed_files_traceback_and_goes_on(tiny_model, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    good = make(tmp_path / "good.png", grey())
    args = ["image", str(bad), str(good), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "--size", "64"]
    r = CliRunner().invoke(main, [*args, "--debug"])
    assert r.exit_code == 1
    assert "Traceback (most recent call last)" in r.output and "InputError: not a picture" in r.output
    assert f"error: {bad}: not a picture filmcolor can read" in r.output
    assert (tmp_path / "out" / "good.png").exists()  # the batch went on
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_names_that_are_all_wrong_are_answered_without_the_model(tmp_path):
    # a model that cannot load is not even looked at: the error is the file's
    r = CliRunner().invoke(main, ["image", str(tmp_path / "a.jpg"), str(tmp_path / "b.png"),
                                  "--model", str(tmp_path / "no.safetensors")])
    assert r.exit_code == 1
    assert "a.jpg: no such file" in r.output and "b.png: no such file" in r.output and "safetensors" not in r.output


def test_recursive_folder(run, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    make(tmp_path / "a" / "one.png", grey())
    make(tmp_path / "a" / "b" / "two.png", grey())
    assert run(tmp_path / "a").exit_code == 0
    assert (tmp_path / "a" / "one_color.png").exists() and not (tmp_path / "a" / "b" / "two_color.png").exists()
    assert run(tmp_path / "a", "-r").exit_code == 0
    assert (tmp_path / "a" / "b" / "two_color.png").exists()


def test_a_folder_run_reads_every_kind_pillow_reads_and_names_the_rest(run, tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    kinds = {"jpe": "JPEG", "jfif": "JPEG", "tga": "TGA", "jp2": "JPEG2000", "ppm": "PPM", "avif": "AVIF"}
    for ext, fmt in kinds.items():
        Image.fromarray(grey()).save(scans / f"p.{ext}", format=fmt)
    Image.fromarray(grey()).save(scans / "anim.gif")
    (scans / "phone.heic").write_bytes(b"\x00" * 64)
    (scans / "notes.txt").write_text("not a picture")
    r = run(scans, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert f"{len(kinds)} colorized" in r.output
    assert "note: 2 pictures in a kind filmcolor does not read" in r.output and "anim.gif" in r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"p.{e}" for e in kinds)
    for ext, fmt in kinds.items():
        with Image.open(tmp_path / "out" / f"p.{ext}") as im:
            assert im.format == fmt and im.mode == "RGB" and im.size == (64, 48), ext
            assert np.ptp(np.asarray(im).astype(int), axis=2).max() > 0  # coloured, not grey


def test_a_folder_that_cannot_be_written_is_said_before_the_model_loads(run, tmp_path, monkeypatch):
    from filmcolor import colorizer as colorizer_module
    from filmcolor import images

    make(tmp_path / "a.png", grey())
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(images.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    loads = []
    monkeypatch.setattr(colorizer_module.Colorizer, "load", classmethod(lambda cls, *a, **k: loads.append(1)))
    r = run(tmp_path / "a.png", "-o", locked / "sub" / "a.png")
    assert r.exit_code == 1 and f"cannot write in {locked}: permission denied" in r.output, r.output
    assert loads == []  # refused before the model was loaded, so before any picture was colorized


@pytest.mark.parametrize("size", [(40000, 300), (9000, 32)])  # a side too long; a shape too long (281:1)
def test_a_picture_too_long_for_opencv_is_refused_from_its_header(run, tmp_path, size):
    w, h = size
    path = make(tmp_path / "strip.png", np.zeros((h, w), np.uint8))
    r = run(path)
    assert r.exit_code == 1 and f"{w}x{h} is too long a picture for filmcolor" in r.output, r.output
    assert "unexpected" not in r.output


def test_a_picture_too_long_at_the_size_it_is_seen_at_is_one_line_and_the_batch_goes_on(tmp_path):
    # 200:1 passes the header's 255:1 (made for 128) but is 38400 pixels long at the bundled photo size 192
    strip = make(tmp_path / "strip.png", np.zeros((40, 8000), np.uint8))
    fine = make(tmp_path / "fine.png", np.zeros((40, 60), np.uint8))
    r = CliRunner().invoke(main, ["image", str(strip), str(fine), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1, r.output
    assert "8000x40 is too long a picture to be seen at --size 192" in r.output and "unexpected" not in r.output
    assert (tmp_path / "out" / "fine.png").exists() and not (tmp_path / "out" / "strip.png").exists()
    r = CliRunner().invoke(main, ["image", str(strip), "-o", str(tmp_path / "s.png"), "--size", "128"])
    assert r.exit_code == 0, r.output  # it fits at 128
