import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO
from media import duration, frame_pts, lumas, make_clip, packet_hashes, rgb_frames, stream_info

from filmcolor import Colorizer
from filmcolor.cli import main
from filmcolor.errors import InputError, OutputError
from filmcolor.frames import FrameColorizer
from filmcolor.network import OutOfMemory
from filmcolor.video import VideoOptions, colorize_video
from filmcolor.video.demux import _Frames

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe (apt-get install ffmpeg)")
BIKES = REPO / "samples" / "video" / "bikes.mp4"
BUNNY = REPO / "samples" / "video" / "bigbuckbunny.mp4"


@pytest.fixture(scope="module")
def colorizer(tiny_model) -> Colorizer:
    return Colorizer.load(tiny_model, device="cpu", size=64)


def fast(**kw) -> VideoOptions:
    return VideoOptions(**{"preset": "ultrafast", "batch_size": 4, **kw})


def test_frames_timestamps_audio_and_luma_survive(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=30, audio="aac")
    dst = tmp_path / "out.mkv"
    report = colorize_video(colorizer, src, dst, fast(codec="ffv1"))
    assert report.frames == 30
    assert frame_pts(dst) == frame_pts(src)
    assert packet_hashes(dst, "a") == packet_hashes(src, "a")
    # lossless codec: the output's luma is the source's, bit for bit
    for a, b in zip(lumas(src), lumas(dst), strict=True):
        assert np.array_equal(a, b)
    # and it is in colour: the red disc comes out with some chroma
    rgb = rgb_frames(dst)[10].astype(int)
    assert np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max() > 3


def test_variable_frame_rate_is_kept(colorizer, tmp_path):
    pts = [0, 1000, 1500, 4000, 4100, 9000, 9500, 12000]
    src = make_clip(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 12000))
    dst = tmp_path / "out.mp4"
    colorize_video(colorizer, src, dst, fast())
    assert frame_pts(dst) == frame_pts(src)
    # the last frame's display time is not written in the source (mp4 has no
    # end time for it), so muxers guess; all frames before it are exact
    assert duration(dst) == pytest.approx(duration(src), abs=0.15)


@pytest.mark.parametrize("size", [(97, 61), (160, 90)])
def test_odd_and_plain_sizes(colorizer, tmp_path, size):
    src = make_clip(tmp_path / "in.mkv", frames=6, size=size, codec="ffv1", pix_fmt="yuv444p")
    dst = tmp_path / "out.mp4"
    report = colorize_video(colorizer, src, dst, fast())
    info = stream_info(dst)[0]
    assert (info["width"], info["height"]) == size
    assert int(info["nb_frames"]) == 6 == report.frames


def test_ten_bit_stays_ten_bit(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=6, pix_fmt="yuv420p10le")
    dst = tmp_path / "out.mkv"
    colorize_video(colorizer, src, dst, fast(codec="ffv1"))
    assert stream_info(dst)[0]["pix_fmt"] == "yuv420p10le"
    for a, b in zip(lumas(src), lumas(dst), strict=True):
        assert a.dtype == np.uint16 and np.array_equal(a, b)


def test_color_tags_rotation_and_aspect_are_kept(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=6, colorspace=1, rotation=90, sar=Fraction(4, 3), color_range=2)
    dst = tmp_path / "out.mp4"
    colorize_video(colorizer, src, dst, fast())
    info = stream_info(dst)[0]
    assert info["color_space"] == "bt709"
    assert info["color_range"] == "pc"
    assert info["sample_aspect_ratio"] == "4:3"
    assert any(sd.get("rotation") in (90, -90) for sd in info.get("side_data_list", []))


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_keeps_its_sign(colorizer, tmp_path, rotation):
    src = make_clip(tmp_path / "in.mp4", frames=3, rotation=rotation)
    dst = tmp_path / "out.mp4"
    colorize_video(colorizer, src, dst, fast())
    tagged = [sd["rotation"] for s in (src, dst) for sd in stream_info(s)[0].get("side_data_list", [])
              if "rotation" in sd]
    assert len(tagged) == 2 and tagged[0] == tagged[1], tagged


def test_untagged_sd_is_tagged_with_the_matrix_used(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=4)
    dst = tmp_path / "out.mp4"
    colorize_video(colorizer, src, dst, fast())
    assert stream_info(dst)[0]["color_space"] == "smpte170m"


def test_subtitles_are_copied_into_mkv_and_refused_by_mp4(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=12, audio="aac", subtitles=True)
    dst = tmp_path / "out.mkv"
    colorize_video(colorizer, src, dst, fast())
    assert packet_hashes(dst, "s") == packet_hashes(src, "s")
    assert packet_hashes(dst, "a") == packet_hashes(src, "a")
    with pytest.raises(OutputError, match="subtitle.*cannot go into .mp4"):
        colorize_video(colorizer, src, tmp_path / "out.mp4", fast())
    assert not (tmp_path / "out.mp4").exists()


def test_audio_the_container_cannot_hold_is_reencoded_and_said(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=24, audio="libopus")
    dst = tmp_path / "out.mov"
    report = colorize_video(colorizer, src, dst, fast())
    assert report.reencoded and "re-encoded as aac" in report.reencoded[0]
    streams = stream_info(dst)
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert audio and audio[0]["codec_name"] == "aac"
    assert float(audio[0]["duration"]) == pytest.approx(1.0, abs=0.05)


def test_reencoded_audio_that_starts_late_stays_in_sync(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=24, audio="libopus", audio_start=0.5)
    first = [s for s in stream_info(src) if s["codec_type"] == "audio"][0]
    assert float(first["start_time"]) == pytest.approx(0.5, abs=0.03)
    dst = tmp_path / "out.mov"
    report = colorize_video(colorizer, src, dst, fast())
    assert "re-encoded as aac" in report.reencoded[0]
    audio = [s for s in stream_info(dst) if s["codec_type"] == "audio"][0]
    # AAC's encoder delay (priming) may show as a few ms before the start
    assert float(audio["start_time"]) == pytest.approx(0.5, abs=0.05)


def test_real_clip_bikes(colorizer, tmp_path):
    dst = tmp_path / "bikes.mp4"
    report = colorize_video(colorizer, BIKES, dst, fast())
    assert report.frames == 250
    assert frame_pts(dst) == frame_pts(BIKES)
    assert duration(dst) == duration(BIKES) == 10.0
    assert report.cuts == 5  # the clip's five cuts (frames 30, 76, 137, 187, 242); smoothing resets at each
    # key frames: the network saw each shot's first frame and then every 4th at most
    assert 250 * 3 // 4 - 10 <= report.carried <= 250 * 3 // 4


def test_real_clip_with_51_audio(colorizer, tmp_path):
    dst = tmp_path / "bunny.mp4"
    report = colorize_video(colorizer, BUNNY, dst, fast())
    assert report.frames == 132
    assert packet_hashes(dst, "a") == packet_hashes(BUNNY, "a")
    assert frame_pts(dst) == frame_pts(BUNNY)
    assert duration(dst) == duration(BUNNY)


def test_gpu_out_of_memory_halves_the_batch(colorizer, tmp_path, monkeypatch):
    real = colorizer.ab_small

    def picky(L, clamp=True):
        if len(L) > 2:
            raise OutOfMemory("pretend")
        return real(L, clamp)

    monkeypatch.setattr(colorizer, "ab_small", picky)
    src = make_clip(tmp_path / "in.mp4", frames=10)
    # every frame through the network, so each batch really holds 8
    report = colorize_video(colorizer, src, tmp_path / "out.mp4", fast(batch_size=8, key_interval=1))
    assert report.frames == 10
    assert report.batch_size == 2
    assert any("out of memory" in n for n in report.notices)


def test_interrupt_leaves_nothing_behind(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=40)
    dst = tmp_path / "out.mp4"
    seen = []

    def progress(n):
        seen.append(n)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colorize_video(colorizer, src, dst, fast(), progress=progress)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def combed_clip(path, frames: int = 10, w: int = 160, h: int = 96):
    """Interlaced video of a fast-moving disc: each frame's two fields are 1/50 s apart."""
    from media import scene

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25, options={"flags": "+ilme+ildct", "crf": "0"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = scene(8 * i, w, h)
            img[1::2] = scene(8 * i + 4, w, h)[1::2]  # the second field, later
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    return path


def comb(y: np.ndarray) -> float:
    """Mean vertical zig-zag: large where alternate lines come from different moments."""
    y = y.astype(np.float64)
    return float(np.abs(2 * y[1:-1] - y[:-2] - y[2:]).mean())


def test_deinterlace_removes_combing_and_keeps_every_frame(colorizer, tmp_path):
    src = combed_clip(tmp_path / "in.mp4")
    kept, fixed = tmp_path / "kept.mp4", tmp_path / "fixed.mp4"
    colorize_video(colorizer, src, kept, fast())
    report = colorize_video(colorizer, src, fixed, fast(deinterlace=True))
    assert report.frames == 10
    assert frame_pts(fixed) == frame_pts(src)
    before = np.mean([comb(y) for y in lumas(kept)])
    after = np.mean([comb(y) for y in lumas(fixed)])
    assert after < 0.6 * before, (before, after)


# ----------------------------------------------------------------- bad input


def test_not_a_video(colorizer, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not a video"):
        colorize_video(colorizer, bad, tmp_path / "out.mp4")


def test_no_video_stream(colorizer, tmp_path):
    src = tmp_path / "sound.m4a"
    with av.open(str(src), "w") as out:
        s = out.add_stream("aac", rate=48000)
        s.layout = "mono"
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, i * 1024
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with pytest.raises(InputError, match="no video stream"):
        colorize_video(colorizer, src, tmp_path / "out.mp4")


def test_zero_frames(colorizer, tmp_path):
    src = tmp_path / "empty.mkv"
    with av.open(str(src), "w") as out:
        s = out.add_stream("ffv1", rate=24)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
    with pytest.raises(InputError):
        colorize_video(colorizer, src, tmp_path / "out.mkv")
    assert not (tmp_path / "out.mkv").exists()


def test_truncated_file_keeps_what_it_can(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=40)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    report = colorize_video(colorizer, cut, tmp_path / "out.mkv", fast())
    assert 5 < report.frames < 40


def garble(src: Path, dst: Path, which: set[int]) -> None:
    """Copy src to dst with the payload of some video packets replaced by noise."""
    rng = np.random.default_rng(0)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = out.add_stream_from_template(inp.streams.video[0])
        for i, p in enumerate(p for p in inp.demux(video=0) if p.size):
            if i in which:
                data = bytes(p)
                q = av.Packet(data[:4] + rng.integers(0, 255, len(data) - 4, dtype=np.uint8).tobytes())
                q.pts, q.dts, q.duration, q.time_base = p.pts, p.dts, p.duration, p.time_base
                p = q
            p.stream = s
            out.mux(p)


def test_damaged_packets_are_counted_and_skipped(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=40)
    bad = tmp_path / "bad.mkv"
    garble(src, bad, {15, 16})
    report = colorize_video(colorizer, bad, tmp_path / "out.mkv", fast())
    assert report.damaged_packets + report.lost_frames >= 2
    assert report.frames + report.damaged_packets + report.lost_frames == 40


def test_cli_warns_about_damage(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=30)
    bad = tmp_path / "bad.mkv"
    garble(src, bad, {10})
    r = CliRunner().invoke(main, ["video", str(bad), str(tmp_path / "o.mkv"), "--model", str(tiny_model), "--size", "64"])
    assert r.exit_code == 0
    assert "damaged video" in r.output and "missing" in r.output


def test_output_that_is_the_input(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=4)
    before = src.read_bytes()
    with pytest.raises(OutputError, match="output is the input"):
        colorize_video(colorizer, src, src)
    assert src.read_bytes() == before


def test_missing_output_folder(colorizer, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=4)
    with pytest.raises(OutputError, match="does not exist"):
        colorize_video(colorizer, src, tmp_path / "nope" / "out.mp4")


def test_decoder_never_runs_far_ahead_of_the_color_stage(colorizer, tmp_path, monkeypatch):
    """Bounded queues: memory does not grow with the film, however slow the network."""
    import time

    src = make_clip(tmp_path / "in.mp4", frames=60)
    count = {"emitted": 0, "coloured": 0}
    lags = []
    real_emit, real_colorize = _Frames._emit, FrameColorizer.colorize

    def emit(self, frame, t):
        count["emitted"] += 1
        yield from real_emit(self, frame, t)

    def slow_colorize(self, frames, smoother):
        time.sleep(0.05)  # a slow network: the decoder must wait, not pile up frames
        count["coloured"] += len(frames)
        lags.append(count["emitted"] - count["coloured"])
        return real_colorize(self, frames, smoother)

    monkeypatch.setattr(_Frames, "_emit", emit)
    monkeypatch.setattr(FrameColorizer, "colorize", slow_colorize)
    report = colorize_video(colorizer, src, tmp_path / "o.mp4", fast(batch_size=4, queue_batches=2))
    assert report.frames == 60
    # frames decoded but not yet coloured: at most the queue (2 batches = 8) and
    # the frame in the decoder's hand, never the rest of the film
    assert 4 <= max(lags) <= 8 + 1


# ----------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "args,message",
    [
        (["missing.mp4", "out.mp4"], "no such file"),
        (["in.mp4", "in.mp4"], "output is the input"),
        (["in.mp4", "notes.mp4/out.mp4"], "cannot create the output folder"),
        (["in.mp4", "out.xyz"], "FFmpeg knows no film format by the name .xyz"),
        (["in.mp4", "out"], "FFmpeg knows no film format by the name (no suffix)"),
        (["notes.mp4", "out.mp4"], "not a video"),
        (["in.mp4", "/proc/out.mp4"], "cannot write in /proc"),
    ],
)
def test_cli_errors_are_one_line(tiny_model, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "in.mp4", frames=4)
    (tmp_path / "notes.mp4").write_text("not a film")
    r = CliRunner().invoke(main, ["video", *args, "--model", str(tiny_model), "--size", "64", "-q"])
    assert r.exit_code == 1
    assert message in r.output
    assert "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_output_gets_the_permissions_of_a_new_file(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=4)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mkv"), "--model", str(tiny_model),
                                  "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "o.mkv").stat().st_mode & 0o777 == 0o666 & ~umask


def test_cli_creates_a_missing_output_folder_like_image_does(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=4)
    dst = tmp_path / "new" / "deeper" / "o.mkv"
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--model", str(tiny_model), "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    assert len(lumas(dst)) == 4


@pytest.mark.parametrize(
    "extra,code,says",
    [
        (["--crf", "63"], 2, "above libx264's highest, 51"),
        (["--codec", "ffv1", "--crf", "20"], 0, "--crf does nothing with ffv1"),
        (["--codec", "libvpx-vp9", "--preset", "ultrafast"], 0, "--preset does nothing with libvpx-vp9"),
        (["--no-smooth", "--key-interval", "8"], 0, "--key-interval does nothing with --no-smooth"),
        (["--reference-strength", "0.5"], 0, "--reference-strength does nothing without a reference"),
        (["--preset", "fast", "--crf", "30"], 0, None),
    ],
)
def test_cli_says_when_an_option_cannot_work(tiny_model, tmp_path, extra, code, says):
    src = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / ("o.mkv" if "ffv1" in extra else "o.mp4" if "libvpx-vp9" not in extra else "o.webm")
    r = CliRunner().invoke(main, ["video", str(src), str(out), "--model", str(tiny_model), "--size", "64", "-q", *extra])
    assert r.exit_code == code, r.output
    if says:
        assert says in r.output
    else:
        assert "note:" not in r.output


@pytest.mark.parametrize("trc,says", [(16, "source is HDR (PQ"), (18, "source is HDR (HLG"), (1, None)])
def test_hdr_sources_are_warned_about_even_when_quiet(tiny_model, tmp_path, trc, says):
    src = make_clip(tmp_path / "in.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le", colorspace=9,
                    color_trc=trc)
    assert stream_info(src)[0].get("color_transfer") in ("smpte2084", "arib-std-b67", "bt709")
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mkv"), "--model", str(tiny_model),
                                  "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    assert (says in r.output) if says else ("warning" not in r.output)


@pytest.mark.parametrize("codec,suffix,name", [
    ("libx264", ".mp4", "h264"), ("libx265", ".mp4", "hevc"), ("libsvtav1", ".mkv", "av1"),
    ("libvpx-vp9", ".webm", "vp9"), ("prores", ".mov", "prores"), ("ffv1", ".mkv", "ffv1"),
])
def test_every_encoder_offered_writes_a_film(tiny_model, tmp_path, capfd, codec, suffix, name):
    from filmcolor.video import CODECS

    try:
        av.codec.Codec(CODECS[codec].encoder, "w")
    except Exception:
        pytest.skip(f"this FFmpeg has no {codec}")
    src = make_clip(tmp_path / "in.mp4", frames=5, size=(128, 96))
    dst = tmp_path / f"o{suffix}"
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--codec", codec, "--model", str(tiny_model),
                                  "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    video = [s for s in stream_info(dst) if s["codec_type"] == "video"][0]
    assert video["codec_name"] == name
    assert len(lumas(dst)) == 5
    assert capfd.readouterr().err == ""  # -q: no encoder library talks on its own (SVT-AV1 does unless told)


@pytest.mark.parametrize("crf,preset,subme", [(30, "ultrafast", 0), (12, "medium", 7)])
def test_crf_and_preset_reach_x264(tiny_model, tmp_path, crf, preset, subme):
    src = make_clip(tmp_path / "in.mp4", frames=5, size=(128, 96))
    dst = tmp_path / "o.mp4"
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--crf", str(crf), "--preset", preset,
                                  "--model", str(tiny_model), "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    settings = dst.read_bytes()  # x264 writes the settings it ran with into the stream
    assert f"crf={crf}.0".encode() in settings and f"subme={subme} ".encode() in settings


def test_cli_unknown_codec_is_a_usage_error(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=4)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mp4"), "--codec", "h266"])
    assert r.exit_code == 2 and "h266" in r.output


def test_cli_ctrl_c_exits_130_and_leaves_nothing(tiny_model, tmp_path, monkeypatch):
    src = make_clip(tmp_path / "in.mp4", frames=20)

    def boom(self, frames, smoother):
        raise KeyboardInterrupt

    monkeypatch.setattr(FrameColorizer, "colorize", boom)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mp4"), "--model", str(tiny_model), "--size", "64"])
    assert r.exit_code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_sigterm_leaves_nothing_behind(tiny_model, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    src = make_clip(tmp_path / "in.mkv", frames=300, size=(320, 240), codec="ffv1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "filmcolor", "video", str(src), str(tmp_path / "o.mp4"), "--model", str(tiny_model),
         "--size", "64", "--preset", "slow", "-q"],
        stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".o.*.part.mp4")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "finished before it could be stopped: make the clip longer"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


def test_the_command_line_imports_no_runtime_until_it_colorizes():
    import subprocess
    import sys

    code = ("import sys, filmcolor, filmcolor.cli, filmcolor.video, filmcolor.images; "
            "print('torch' in sys.modules, 'onnxruntime' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert r.stdout.strip() == "False False"  # --help and wrong names answer at once (benchmarks/startup.py)


def test_nothing_that_colorizes_imports_torch(tiny_model, tmp_path):
    """Photos, films, evaluate, segments and references run on ONNX Runtime alone."""
    import subprocess
    import sys

    import cv2

    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.tile(np.arange(64, dtype=np.uint8), (48, 1)) * 4)
    clip = make_clip(tmp_path / "c.mp4", frames=6)
    code = f"""
import sys
from filmcolor.cli import main
for args in (["image", {str(photo)!r}, "-o", {str(tmp_path / "out")!r}, "--reference", {str(REPO / "samples/truth/beach.jpg")!r}],
             ["video", {str(clip)!r}, {str(tmp_path / "o.mp4")!r}, "--segment-seconds", "0.1", "--preset", "ultrafast"],
             ["evaluate", {str(REPO / "tests/data/photo.jpg")!r}]):
    try:
        main(args + ["--model", {str(tiny_model)!r}, "--size", "64", "-q"])
    except SystemExit as e:
        assert not e.code, (args, e.code)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "train", "safetensors")))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_a_missing_film_is_answered_before_the_model_loads(tmp_path):
    r = CliRunner().invoke(main, ["video", str(tmp_path / "in.mp4"), str(tmp_path / "o.mp4"),
                                  "--model", str(tmp_path / "no.onnx")])
    assert r.exit_code == 1 and r.output.strip() == f"error: {tmp_path / 'in.mp4'}: no such file"


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.mp4"])  # the last: a JPEG by content, not by name
def test_a_still_picture_is_not_a_film(tmp_path, name):
    import cv2

    src = tmp_path / name
    ok, data = cv2.imencode(".png" if name.endswith(".png") else ".jpg", np.full((48, 64, 3), 90, np.uint8))
    src.write_bytes(data.tobytes())
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mp4"), "--model", str(tmp_path / "no.onnx")])
    assert r.exit_code == 1, r.output
    assert r.output.strip() == f"error: {src}: a still picture, not a film: colorize it with filmcolor image"
    assert not (tmp_path / "o.mp4").exists()


def test_what_ffmpeg_refuses_to_write_is_one_line_naming_the_output(tiny_model, tmp_path, monkeypatch):
    from filmcolor.timestamps import Retimer

    times = iter(range(1000, 0, -100))
    monkeypatch.setattr(Retimer, "place", lambda self, t: next(times))  # a bug: times that run backwards
    src = make_clip(tmp_path / "in.mp4", frames=10)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mp4"), "--model", str(tiny_model),
                                  "--size", "64", "-q"])
    assert r.exit_code == 1
    assert r.output.startswith(f"error: {src}: FFmpeg refused to write o.mp4 (")
    assert "--debug shows FFmpeg's own message" in r.output and ".part" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_full_disk_is_one_line_naming_the_output(tiny_model, tmp_path):
    import resource
    import signal
    import subprocess
    import sys

    def small_files() -> None:  # what a full disk looks like to the writer: a write that fails
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4_000, 4_000))

    src = make_clip(tmp_path / "in.mp4", frames=60, size=(320, 240))
    dst = tmp_path / "o.mp4"
    r = subprocess.run([sys.executable, "-m", "filmcolor", "video", str(src), str(dst), "--model", str(tiny_model),
                        "--size", "64", "-q", "--crf", "0"], preexec_fn=small_files, capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == [f"error: {src}: cannot write {dst}: File too large"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_no_stage_outlives_the_run(colorizer, tmp_path, monkeypatch):
    import threading
    import time

    src = make_clip(tmp_path / "in.mp4", frames=20)
    finished = []

    emitted = []
    real_emit = _Frames._emit
    in_network = threading.Event()

    def slow(self, frames, smoother):
        in_network.set()
        time.sleep(6)  # longer than any fixed wait for the stage
        finished.append(True)
        return []

    def failing(self, frame, t):  # the decoder fails while the first batch is in the network
        emitted.append(t)
        if len(emitted) > 10:
            # not before: a decoder that fails first stops the run before any batch is formed
            assert in_network.wait(30)
            raise RuntimeError("a decoder bug")
        yield from real_emit(self, frame, t)

    monkeypatch.setattr(FrameColorizer, "colorize", slow)
    monkeypatch.setattr(_Frames, "_emit", failing)
    try:
        colorize_video(colorizer, src, tmp_path / "o.mkv", fast())
    except Exception:
        pass
    assert finished  # the run waited for the batch to end
    assert not [t for t in threading.enumerate() if t.name.startswith("filmcolor-")]


def test_cli_options_reach_the_output(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=8, audio="aac")
    dst = tmp_path / "o.mkv"
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--model", str(tiny_model), "--size", "64",
                                  "--codec", "libx265", "--crf", "30", "--preset", "ultrafast",
                                  "--batch-size", "3", "--no-smooth", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "8 frames" in r.output
    assert stream_info(dst)[0]["codec_name"] == "hevc"
    assert "along the motion" not in r.output  # --no-smooth: the network saw every frame
    q = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "q.mp4"), "--model", str(tiny_model),
                                  "--size", "64", "-q"])
    assert q.exit_code == 0 and q.output == ""
    k = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "k.mp4"), "--model", str(tiny_model),
                                  "--size", "64", "--key-interval", "2", "--preset", "ultrafast"])
    assert k.exit_code == 0 and "4 coloured along the motion" in k.output, k.output


@pytest.mark.parametrize("size,batches", [(3, [3, 3, 2]), (8, [8])])
def test_batch_size_is_what_the_network_gets(tiny_model, tmp_path, monkeypatch, size, batches):
    from filmcolor.colorizer import Colorizer

    seen, real = [], Colorizer.ab_small

    def counted(self, L, *a, **kw):
        seen.append(len(L))
        return real(self, L, *a, **kw)

    monkeypatch.setattr(Colorizer, "ab_small", counted)
    src = make_clip(tmp_path / "in.mp4", frames=8)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mkv"), "--model", str(tiny_model),
                                  "--size", "64", "--batch-size", str(size), "--no-smooth", "-q"])
    assert r.exit_code == 0, r.output
    assert seen == batches


def test_cpu_threads_are_set_for_the_run_and_restored(tiny_model, tmp_path, monkeypatch):
    colorizer = Colorizer.load(tiny_model, device="cpu", size=64, threads=2)
    colorizer.set_threads(3)  # what the caller set last is what it gets back, not what it loaded with
    seen = []
    real = colorizer.ab_small

    def spy(L, clamp=True):
        seen.append(colorizer.net.session.get_session_options().intra_op_num_threads)
        return real(L, clamp)

    monkeypatch.setattr(colorizer, "ab_small", spy)
    src = make_clip(tmp_path / "in.mp4", frames=6)
    colorize_video(colorizer, src, tmp_path / "out.mp4", fast(cpu_threads=1))
    assert seen and set(seen) == {1}
    assert colorizer.net.session.get_session_options().intra_op_num_threads == 3


def test_container_probe_refuses_only_what_ffmpeg_refuses():
    from filmcolor.encoding import container_takes

    assert container_takes("matroska", lambda c: c.add_stream("ffv1", rate=25))
    assert not container_takes("webm", lambda c: c.add_stream("libx264", rate=25))  # webm holds no H.264

    def bug(c):
        raise TypeError("a programming error, not a refusal")

    with pytest.raises(TypeError):
        container_takes("matroska", bug)
