"""The film path's wiring: options that must reach the stage they steer, inputs
that must be refused, and the join's repair of decode times, each checked on
real outputs (so that a bug in the wiring, not only in a stage, fails here)."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest
from click.testing import CliRunner
from media import ffprobe, frame_pts, make_clip, rgb_frames
from PIL import Image
from standins import constant, stand_in_colorizer

from filmcolor.cli import main
from filmcolor.errors import InputError
from filmcolor.video import VideoOptions, colorize_video, join_segments

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe (apt-get install ffmpeg)")


def cli(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def reference(tmp_path):
    """A strongly coloured photo (red left half, blue right half)."""
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (220, 30, 30)
    rgb[:, 32:] = (30, 30, 220)
    path = tmp_path / "ref.png"
    Image.fromarray(rgb).save(path)
    return path


def test_reference_strength_zero_is_the_automatic_colour_of_a_photo(tiny_model, tmp_path, reference):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.tile(np.linspace(20, 230, 64, dtype=np.uint8), (48, 1))).save(grey)
    model = ("--model", tiny_model, "--size", "64")
    outs = {}
    for name, extra in {"auto": (), "zero": ("--reference", reference, "--reference-strength", "0"),
                        "full": ("--reference", reference)}.items():
        r = cli("image", grey, "-o", tmp_path / f"{name}.png", *model, *extra)
        assert r.exit_code == 0, r.output
        outs[name] = np.asarray(Image.open(tmp_path / f"{name}.png")).astype(int)
    assert np.array_equal(outs["zero"], outs["auto"])
    assert np.abs(outs["full"] - outs["auto"]).mean() > 1  # the reference does steer at full strength


def test_reference_strength_zero_is_the_automatic_colour_of_a_film(tiny_model, tmp_path, reference):
    src = make_clip(tmp_path / "in.mp4", frames=12)
    model = ("--model", tiny_model, "--size", "64", "--codec", "ffv1", "--segment-seconds", "0")
    outs = {}
    for name, extra in {"auto": (), "zero": ("--reference", reference, "--reference-strength", "0"),
                        "full": ("--reference", reference)}.items():
        r = cli("video", src, tmp_path / f"{name}.mkv", *model, *extra)
        assert r.exit_code == 0, r.output
        outs[name] = np.stack(rgb_frames(tmp_path / f"{name}.mkv")).astype(int)
    assert np.array_equal(outs["zero"], outs["auto"])
    assert np.abs(outs["full"] - outs["auto"]).mean() > 1


def test_cpu_threads_reach_the_network_for_the_film_and_are_given_back(tmp_path):
    colorizer = stand_in_colorizer(constant(10, 20))
    net = colorizer.net
    seen = []
    paint = net.paint
    net.paint = lambda L: seen.append(net.threads) or paint(L)
    colorizer.set_threads(1)
    src = make_clip(tmp_path / "in.mp4", frames=10)
    colorize_video(colorizer, src, tmp_path / "o.mkv", VideoOptions(cpu_threads=3, codec="ffv1"))
    assert seen and set(seen) == {3}
    assert net.threads == 1


def test_a_film_whose_every_frame_is_damaged_is_refused_and_nothing_is_written(tiny_model, tmp_path):
    from test_video import garble

    src = make_clip(tmp_path / "in.mkv", frames=8)
    bad = tmp_path / "bad.mkv"
    garble(src, bad, set(range(8)))
    with av.open(str(bad)) as c:  # a real film: it opens, with a video stream of 8 packets
        assert len([p for p in c.demux(video=0) if p.size]) == 8
    out = tmp_path / "out"
    out.mkdir()
    r = cli("video", bad, out / "o.mkv", "--model", tiny_model, "--size", "64")
    assert r.exit_code == 1 and "no frames could be decoded" in r.output, r.output
    assert list(out.iterdir()) == []
    with pytest.raises(InputError):
        colorize_video(stand_in_colorizer(constant(0, 0)), bad, out / "o.mkv", VideoOptions(codec="ffv1"))


def srgb_lightness(v: float) -> float:
    """CIE L* of an sRGB grey of value v in [0, 1] (the standard formulas)."""
    lin = ((v + 0.055) / 1.055) ** 2.4 if v > 0.04045 else v / 12.92
    return 116 * lin ** (1 / 3) - 16


@pytest.mark.parametrize("how", ["yuvj420p", "range flag"])
def test_the_network_sees_the_lightness_of_a_full_range_source(tmp_path, how):
    # grey at code 235: in full range that is 235/255 (L 93); read as limited range it would be white (L 100)
    src = tmp_path / "full.mp4"
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height = 64, 48
        s.pix_fmt = "yuvj420p" if how == "yuvj420p" else "yuv420p"
        s.codec_context.color_range = 2  # AVCOL_RANGE_JPEG
        for i in range(6):
            f = av.VideoFrame(64, 48, s.pix_fmt)
            for k, v in enumerate((235, 128, 128)):
                plane = f.planes[k]
                plane.update(bytes([v]) * plane.buffer_size)
            f.pts = i
            f.color_range = 2
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    seen = []
    colorizer = stand_in_colorizer(lambda L: seen.append(float(np.median(L))) or constant(0, 0)(L))
    colorize_video(colorizer, src, tmp_path / "o.mkv", VideoOptions(codec="ffv1", smooth=False))
    assert seen and all(abs(L - srgb_lightness(235 / 255)) < 1.0 for L in seen), (seen, srgb_lightness(235 / 255))


def test_the_join_repairs_decode_times_where_segments_differ_in_encoder_delay(tmp_path):
    """Segment 0 without B-frames (decode times = presentation times), segment 1 with
    them (its first decode times reach back before its first frame, into segment 0's):
    the join moves them just past the last, or the muxer would refuse the film."""
    src = make_clip(tmp_path / "film.mp4", frames=48, audio="aac")
    with av.open(str(src)) as c:
        v = c.streams.video[0]
        tb, rate = v.time_base, v.average_rate
        frames = [f for f in c.decode(v)]
    parts = []
    for n, (chunk, bf) in enumerate(((frames[:24], "0"), (frames[24:], "3"))):
        path = tmp_path / f"seg_{n:04d}.mov"
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=rate, options={"bf": bf, "preset": "medium",
                                                                 # each key frame carries its own parameter sets:
                                                                 # the two encoders' differ
                                                                 "x264-params": "repeat-headers=1"})
            s.width, s.height, s.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
            s.time_base = s.codec_context.time_base = tb
            for f in chunk:
                for p in s.encode(f):
                    out.mux(p)
            for p in s.encode(None):
                out.mux(p)
        parts.append(path)
    with av.open(str(parts[1])) as c:
        first_dts = min(p.dts for p in c.demux(video=0) if p.size)
    assert first_dts < frames[24].pts  # segment 1 has an encoder delay, segment 0 none
    dst = tmp_path / "joined.mp4"
    report = join_segments(src, dst, VideoOptions(), parts)
    assert report.frames == 48
    assert frame_pts(dst) == frame_pts(src)
    packets = ffprobe(dst, "-select_streams", "v", "-show_packets", "-show_entries", "packet=dts")["packets"]
    dts = [int(p["dts"]) for p in packets]
    assert all(b > a for a, b in zip(dts, dts[1:], strict=False)), dts
    assert [s["codec_type"] for s in ffprobe(dst, "-show_streams")["streams"]] == ["video", "audio"]
