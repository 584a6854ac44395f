"""Films as archives hold them: broken, missing or restarting timestamps,
DivX-era AVI, DVD and broadcast formats, raw elementary streams.

The clips are made by FFmpeg's command line (the packed-B-frame AVI needs its
libxvid); a test whose encoder this FFmpeg lacks is skipped.
"""

import random
import re
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from media import duration, ffprobe, frame_pts, lumas, make_clip, packet_hashes

from filmcolor.cli import main
from filmcolor.timestamps import Retimer

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (apt-get install ffmpeg)")


def ffmpeg(path, *args: str):
    """Make ``path`` with FFmpeg's command line; skip the test if this FFmpeg lacks an encoder."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        if "Unknown encoder" in r.stderr or "not found" in r.stderr.lower():
            pytest.skip(f"this FFmpeg cannot make the clip: {r.stderr.strip()}")
        raise AssertionError(r.stderr)
    return path


def lavfi_source(seconds=2, size="320x240", audio="sine", sample_rate=48000) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
            *(["-f", "lavfi", "-i", f"sine=duration={seconds}:sample_rate={sample_rate}"] if audio else [])]


def colorize(tiny_model, src, dst, *extra):
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--model", str(tiny_model), "--size", "64", *extra])
    assert r.exit_code == 0, r.output
    return r.output


def decoded_frames(path) -> int:
    """How many frames FFmpeg's command line decodes from the first video stream."""
    d = ffprobe(path, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames")
    return int(d["streams"][0]["nb_read_frames"])


def strictly_increasing(values) -> bool:
    return all(b > a for a, b in zip(values[:-1], values[1:], strict=True))


def source_greys(path, size=(320, 240)) -> np.ndarray:
    """The source's luma as FFmpeg's command line decodes it, frame by frame in display order."""
    w, h = size
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vsync", "0", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.float32)


# ------------------------------------------------------------------ the repair itself


def retime(pairs, **kw) -> tuple[list[int], Retimer]:
    r = Retimer(**kw)
    out = []
    for i, (pts, dts) in enumerate(pairs):
        out += [t for _, t in r.push(i, pts, dts)]
    return out + [t for _, t in r.flush()], r


def test_packed_b_frame_times_are_put_back_in_display_order():
    # what the decoder gives for a DivX AVI: presentation times stepping back every third frame
    got, r = retime([(3, 3), (4, 4), (6, 5), (5, 6), (7, 7), (9, 8), (8, 9), (10, 10)], step=1)
    assert got == [3, 4, 5, 6, 7, 8, 9, 10]
    assert r.reordered == 4 and r.nudged == r.jumps == r.missing == 0


def test_times_that_are_right_are_left_alone():
    times = [0, 40, 120, 130, 200, 1000]  # variable frame rate, with a long still
    got, r = retime([(t, None) for t in times], step=40)
    assert got == times and r.repaired == 0 and r.describe() == ""


@pytest.mark.parametrize("pairs,step,min_step,kw,want", [
    ([(None, None)] * 4, 48000, 1, {}, [0, 48000, 96000, 144000]),  # raw stream: from the frame rate
    ([(0, None), (40, None), (40, None), (80, None)], 40, 1, {}, [0, 40, 41, 80]),  # a repeated time
    ([(0, None), (40, None), (40, None), (80, None)], 40, 10, {}, [0, 40, 50, 80]),  # the muxer's clock is coarser
    ([(round(k * 1000 / 24), None) for k in range(48)], 42, Fraction(125, 3), {},  # 24 fps in ms, into 1/24 s
     [round(k * 1000 / 24) for k in range(48)]),
    ([(0, None), (42, None), (50, None), (125, None)], 42, Fraction(125, 3), {}, [0, 42, 84, 125]),  # 50 is 42's tick
    # 29.97/30 fps in ms into AVI: one frame (33 ms) is finer than the output's tick (33.3 ms)
    ([(round(k * 100 / 3), None) for k in range(21)] + [(677, None)], 33, Fraction(100, 3), {},
     [round(k * 100 / 3) for k in range(21)] + [700]),
    ([(1000, None), (1040, None), (0, None), (40, None)], 40, 1, {}, [1000, 1040, 1080, 1120]),  # clock went back
    ([(0, None), (40, None), (90000, None)], 40, 1, {"clock_restarts": True, "jump_ticks": 400}, [0, 40, 80]),
    ([(0, None), (40, None), (90000, None)], 40, 1, {}, [0, 40, 90000]),  # a pause, where clocks do not restart
    ([(100, None)] + [(None, None)] * 2, 40, 1, {"offset": -100}, [0, 40, 80]),  # a start moved to 0
])
def test_repairs(pairs, step, min_step, kw, want):
    got, _ = retime(pairs, step=step, min_step=min_step, **kw)
    assert got == want


# ------------------------------------------------------------------ films


@pytest.fixture(scope="module")
def packed_avi(tmp_path_factory):
    """A DivX AVI as archives hold them: MPEG-4 ASP with packed B-frames (libxvid packs them), AC3 sound."""
    path = tmp_path_factory.mktemp("avi") / "packed.avi"
    return ffmpeg(path, *lavfi_source(4), "-c:v", "libxvid", "-vtag", "DIVX", "-bf", "2", "-c:a", "ac3")


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_packed_b_frame_avi_keeps_every_frame_in_display_order(tiny_model, tmp_path, packed_avi, suffix):
    dst = tmp_path / f"o{suffix}"
    said = colorize(tiny_model, packed_avi, dst, "--codec", "libx264")
    assert "timestamps repaired" in said and "out of order" in said
    want = decoded_frames(packed_avi)
    assert len(frame_pts(dst)) == want and strictly_increasing(frame_pts(dst))
    assert [h for _, h in packet_hashes(dst, "a")] == [h for _, h in packet_hashes(packed_avi, "a")]
    # display order: each output frame's luma is nearest the source frame of the same place
    src, out = source_greys(packed_avi), np.stack(lumas(dst)).astype(np.float32)
    assert len(src) == len(out) == want
    for i in range(1, want - 1):
        errors = [np.abs(out[i] - src[j]).mean() for j in (i - 1, i, i + 1)]
        assert int(np.argmin(errors)) == 1, (i, errors)


@pytest.mark.parametrize("fmt,suffix", [("h264", ".h264"), ("mpeg2video", ".m2v")])
def test_a_raw_stream_without_timestamps_keeps_its_duration(tiny_model, tmp_path, fmt, suffix):
    codec = "libx264" if fmt == "h264" else "mpeg2video"
    src = ffmpeg(tmp_path / f"raw{suffix}", *lavfi_source(2, audio=None), "-c:v", codec, "-f", fmt)
    dst = tmp_path / "o.mkv"
    colorize(tiny_model, src, dst)
    pts = frame_pts(dst)
    assert len(pts) == 50 and strictly_increasing(pts)
    assert duration(dst) == pytest.approx(2.0, abs=0.05)  # not 0.04 s: 50 frames at 25 fps


@pytest.mark.parametrize("name,args", [
    ("dvd.mpg", ["-c:v", "mpeg2video", "-c:a", "mp2"]),
    ("dvd.vob", ["-c:v", "mpeg2video", "-c:a", "ac3", "-f", "vob"]),
    ("dv.avi", ["-c:v", "dvvideo", "-s", "720x576", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le"]),
])
def test_archive_formats_go_through_whole_and_start_at_zero(tiny_model, tmp_path, name, args):
    src = ffmpeg(tmp_path / name, *lavfi_source(2), *args)
    dst = tmp_path / "o.mp4"
    colorize(tiny_model, src, dst)
    assert len(frame_pts(dst)) == decoded_frames(src) == 50
    assert [h for _, h in packet_hashes(dst, "a")] == [h for _, h in packet_hashes(src, "a")]
    starts = [float(s["start_time"]) for s in ffprobe(dst, "-show_streams")["streams"]]
    assert max(starts) < 0.1  # no black lead-in from a DVD's clock starting at 0.5 s
    assert duration(dst) == pytest.approx(2.0, abs=0.1)


def test_a_broadcast_whose_clock_restarts(tiny_model, tmp_path):
    part = ffmpeg(tmp_path / "part.ts", *lavfi_source(2), "-c:v", "libx264", "-c:a", "mp2", "-f", "mpegts")
    src = tmp_path / "joined.ts"  # two recordings back to back: the clock starts again in the middle
    src.write_bytes(part.read_bytes() * 2)
    dst = tmp_path / "o.mp4"
    said = colorize(tiny_model, src, dst)
    assert "jumps of the clock" in said
    pts = frame_pts(dst)
    assert len(pts) == 100 and strictly_increasing(pts)
    assert duration(dst) == pytest.approx(4.0, abs=0.1)
    assert len(packet_hashes(dst, "a")) == len(packet_hashes(src, "a"))


def test_a_broadcast_with_garbage_in_the_middle(tiny_model, tmp_path):
    # (this damage, at this sample rate, left frames whose times step back: x264 was refused them)
    clean = ffmpeg(tmp_path / "clean.ts", *lavfi_source(4, sample_rate=44100), "-c:v", "libx264", "-bf", "2", "-c:a", "mp2", "-f", "mpegts")
    data = clean.read_bytes()
    middle = len(data) // 2 // 188 * 188
    rng = random.Random(1)
    src = tmp_path / "damaged.ts"
    src.write_bytes(data[:middle] + bytes(rng.getrandbits(8) for _ in range(20_000)) + data[middle:])
    dst = tmp_path / "o.mp4"
    colorize(tiny_model, src, dst)
    pts = frame_pts(dst)
    assert len(pts) == decoded_frames(src) and strictly_increasing(pts)


def test_repeated_timestamps_go_into_mp4(tiny_model, tmp_path):
    stamps = [0, 40, 80, 80, 120, 160, 160, 160, 200, 240]
    src = make_clip(tmp_path / "dup.mkv", frames=len(stamps), codec="ffv1", time_base=Fraction(1, 1000), pts=stamps)
    dst = tmp_path / "o.mp4"
    said = colorize(tiny_model, src, dst)
    assert "3 repeated or too close" in said
    pts = frame_pts(dst)
    assert len(pts) == len(stamps) and strictly_increasing(pts)


def spliced_ts(tmp_path, first: str, then: str):
    """One second at size ``first``, then one at ``then``, as MPEG-TS files joined byte for byte (a
    broadcast recording whose picture size changes in mid-stream)."""
    parts = [ffmpeg(tmp_path / f"part{i}.ts", *lavfi_source(1, size=size, audio=None), "-c:v", "libx264",
                    "-f", "mpegts") for i, size in enumerate((first, then))]
    src = tmp_path / "spliced.ts"
    src.write_bytes(b"".join(p.read_bytes() for p in parts))
    return src


def test_a_size_change_in_mid_stream_is_scaled_back_and_said(tiny_model, tmp_path):
    src = spliced_ts(tmp_path, "320x240", "160x120")
    dst = tmp_path / "o.mkv"
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--model", str(tiny_model), "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    assert "warning: 25 frames changed to 160x120 yuv420p in mid-stream; scaled back to the film's 320x240" in r.output
    assert "look narrower" not in r.output and "look wider" not in r.output  # the same 4:3 shape: nothing to say
    out = lumas(dst)
    assert len(out) == 50 and {o.shape for o in out} == {(240, 320)}
    assert strictly_increasing(frame_pts(dst))


def test_a_change_of_shape_in_mid_stream_says_the_distortion(tiny_model, tmp_path):
    src = spliced_ts(tmp_path, "320x240", "320x180")
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mkv"), "--model", str(tiny_model),
                                  "--size", "64", "-q"])
    assert r.exit_code == 0, r.output
    assert "frames changed to 320x180 yuv420p in mid-stream" in r.output
    assert "their 16:9 picture fills the film's 4:3, so things in them look narrower than they are" in r.output


@pytest.fixture
def whole_mkv(tmp_path):
    return make_clip(tmp_path / "whole.mkv", frames=50, audio="aac", size=(160, 120))


@pytest.mark.parametrize("segments", ["0", "0.4"])  # one piece, and segments joined
def test_a_cut_short_file_says_how_much_is_missing(tiny_model, tmp_path, whole_mkv, segments):
    data = whole_mkv.read_bytes()
    src = tmp_path / "cut.mkv"
    src.write_bytes(data[: len(data) // 2])  # an interrupted copy: the header still says 50 frames
    said = colorize(tiny_model, src, tmp_path / "o.mkv", "-q", "--segment-seconds", segments)
    kept = len(frame_pts(tmp_path / "o.mkv"))
    assert 10 < kept < 45
    line = next(x for x in said.splitlines() if "the source says it lasts 2.1" in x)
    assert line.startswith("warning:") and "are missing (the file is cut short or damaged)" in line
    missing = int(line.split("about ")[1].split(" frames")[0])
    assert abs(missing - (50 - kept)) <= 3


@pytest.mark.parametrize("segments", ["0", "0.4"])
def test_a_damaged_cluster_is_counted(tiny_model, tmp_path, whole_mkv, segments):
    data = whole_mkv.read_bytes()
    middle = len(data) // 2
    src = tmp_path / "damaged.mkv"
    src.write_bytes(data[:middle] + bytes(random.Random(3).getrandbits(8) for _ in range(3000)) + data[middle + 3000:])
    said = colorize(tiny_model, src, tmp_path / "o.mkv", "-q", "--segment-seconds", segments)
    kept = len(frame_pts(tmp_path / "o.mkv"))
    assert kept < 50
    assert f"warning: about {50 - kept} frames missing in the source (damaged at" in said


@pytest.mark.parametrize("stamps", [
    [round(i * 1000 / 24) for i in range(50)],  # steady
    [0, 40, 80, 400, 440, 480, 2000, 2040, 2080, 2120, 2160, 2200, 5000, 5040],  # a screen recording: long stills
])
def test_whole_films_get_no_such_warning(tiny_model, tmp_path, stamps):
    src = make_clip(tmp_path / "in.mkv", frames=len(stamps), codec="ffv1", time_base=Fraction(1, 1000), pts=stamps,
                    audio="aac")
    said = colorize(tiny_model, src, tmp_path / "o.mkv", "-q")
    assert "warning" not in said and frame_pts(tmp_path / "o.mkv") == stamps


def comb(plane: np.ndarray) -> float:
    """How much a plane's odd lines differ from the mean of their neighbours: high where two
    fields of a moving picture are woven together, low for one picture."""
    p = plane.astype(np.float32)
    return float(np.abs(p[1:-1] - (p[:-2] + p[2:]) / 2).mean())


def chroma_planes(path) -> list[np.ndarray]:
    """Every frame's U and V planes (8-bit 4:2:0)."""
    import av

    from filmcolor.encoding import plane_view

    with av.open(str(path)) as c:
        return [plane_view(f.planes[i], np.uint8, f.width // 2, f.height // 2)
                for f in c.decode(video=0) for i in (1, 2)]


@pytest.fixture(scope="module")
def interlaced(tmp_path_factory):
    """Broadcast-style interlaced clips: each frame two fields of a moving picture 1/50 s apart."""
    folder = tmp_path_factory.mktemp("interlaced")
    clips = {}
    for order, x264 in (("tff", "tff=1"), ("bff", "bff=1")):
        clips[order] = ffmpeg(folder / f"{order}.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=50:duration=1",
                              "-vf", f"tinterlace=interleave_{'top' if order == 'tff' else 'bottom'},setfield={order}",
                              "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264-params", x264)
    clips["dv"] = ffmpeg(folder / "dv.avi", *lavfi_source(1, size="720x576"), "-c:v", "dvvideo", "-pix_fmt", "yuv420p",
                         "-c:a", "pcm_s16le")
    return clips


@pytest.mark.parametrize("clip,suffix,order,top_first,segments", [
    ("tff", ".mkv", "tt", 1, "0"), ("bff", ".mp4", "bb", 0, "0"), ("dv", ".mkv", "bb", 0, "0"),
    ("tff", ".mov", "tt", 1, "0"), ("bff", ".mp4", "bb", 0, "0.3"), ("dv", ".mov", "bb", 0, "0.3"),
])
def test_interlaced_sources_keep_their_field_order(tiny_model, tmp_path, interlaced, clip, suffix, order, top_first,
                                                    segments):
    dst = tmp_path / f"o{suffix}"
    said = colorize(tiny_model, interlaced[clip], dst, "--segment-seconds", segments)
    assert "source is interlaced (kept" in said
    assert ffprobe(dst, "-select_streams", "v:0", "-show_entries", "stream=field_order")["streams"][0][
        "field_order"] == order
    frames = ffprobe(dst, "-select_streams", "v:0", "-show_entries", "frame=interlaced_frame,top_field_first")["frames"]
    assert {(f["interlaced_frame"], f["top_field_first"]) for f in frames} == {(1, top_first)}


def test_deinterlace_makes_a_progressive_film(tiny_model, tmp_path, interlaced):
    dst = tmp_path / "o.mp4"
    colorize(tiny_model, interlaced["tff"], dst, "--deinterlace")
    assert ffprobe(dst, "-select_streams", "v:0", "-show_entries", "stream=field_order")["streams"][0][
        "field_order"] == "progressive"
    frames = ffprobe(dst, "-select_streams", "v:0", "-show_entries", "frame=interlaced_frame")["frames"]
    assert {f["interlaced_frame"] for f in frames} == {0}


def test_color_does_not_comb_between_fields(tiny_model, tmp_path, interlaced):
    # the luma keeps the source's two fields (combed where things move); the colour, made from
    # the whole frame at low resolution, must be one picture
    dst = tmp_path / "o.mkv"
    colorize(tiny_model, interlaced["tff"], dst, "--codec", "ffv1")
    luma = [comb(y) for y in lumas(dst)]
    colored = [comb(c) for c in chroma_planes(dst)]
    assert min(luma) > 5 * max(colored), (min(luma), max(colored))


@pytest.mark.parametrize("segments", ["0", "0.3"])  # one piece, and segments joined
@pytest.mark.parametrize("suffix,track", [(".mov", True), (".mp4", True), (".mkv", False)])
def test_a_camera_timecode_goes_through(tiny_model, tmp_path, suffix, track, segments):
    src = ffmpeg(tmp_path / "camera.mov", *lavfi_source(1), "-timecode", "01:02:03:04", "-c:v", "libx264",
                 "-c:a", "pcm_s24le")
    assert any(s["codec_type"] == "data" for s in ffprobe(src, "-show_streams")["streams"])  # the tmcd track
    dst = tmp_path / f"o{suffix}"
    said = colorize(tiny_model, src, dst, "--segment-seconds", segments)
    streams = ffprobe(dst, "-show_streams")["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert {k.lower(): v for k, v in video.get("tags", {}).items()}["timecode"] == "01:02:03:04"
    tmcd = [s for s in streams if s.get("codec_tag_string") == "tmcd"]
    assert len(tmcd) == track and all(s["tags"]["timecode"] == "01:02:03:04" for s in tmcd)
    assert len(frame_pts(dst)) == 25
    assert ("'ipcm' track" in said) == (suffix == ".mp4")  # 24-bit PCM in .mp4: said


def test_avi_output_keeps_every_frame_in_order(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=40, size=(320, 240), options={"bf": "3"})  # B-frames
    dst = tmp_path / "o.avi"
    colorize(tiny_model, src, dst, "-q")
    got = np.stack(lumas(dst)).astype(np.float32)
    want = np.stack(lumas(src)).astype(np.float32)
    assert len(got) == len(want) == 40
    for i in range(1, 39):
        errors = [np.abs(got[i] - want[j]).mean() for j in (i - 1, i, i + 1)]
        assert int(np.argmin(errors)) == 1, (i, errors)


@pytest.mark.parametrize("claimed", [444, 20])
def test_an_avi_whose_header_miscounts_its_frames_keeps_them_all(tiny_model, tmp_path, claimed):
    import struct

    src = ffmpeg(tmp_path / "true.avi", *lavfi_source(2.72, size="160x120", audio=None), "-c:v", "mpeg4")
    b = bytearray(src.read_bytes())
    for chunk, at in ((b"avih", 16), (b"strh", 32)):  # dwTotalFrames; the stream's dwLength
        struct.pack_into("<I", b, b.find(chunk) + 8 + at, claimed)
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b)
    r = CliRunner().invoke(main, ["video", str(bad), str(tmp_path / "o.mp4"), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 0, r.output
    assert decoded_frames(tmp_path / "o.mp4") == decoded_frames(src) == 68
    assert "wrote" in r.output and "68 frames" in r.output
    # a header that promises more is said (the file may be cut short); one that promises less is no loss
    assert ("about 376 frames) are missing" in r.output) == (claimed == 444)


def test_a_24_fps_film_on_a_millisecond_clock_goes_into_avi_without_repairs(tiny_model, tmp_path):
    # Matroska keeps 1/24 s as 41 or 42 ms; AVI counts frames: nudging every 41-ms step up to 42
    # would drift and "repair" most of the film
    src = ffmpeg(tmp_path / "in.mkv", *lavfi_source(3, audio=None), "-r", "24", "-c:v", "libx264", "-bf", "2")
    said = colorize(tiny_model, src, tmp_path / "o.avi")
    assert "repaired" not in said, said
    d = ffprobe(tmp_path / "o.avi", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp")
    assert [f["best_effort_timestamp"] for f in d["frames"]] == list(range(decoded_frames(src)))


def test_a_variable_rate_film_is_refused_for_avi_before_any_work(tiny_model, tmp_path):
    src = make_clip(tmp_path / "vfr.mkv", frames=8, time_base=Fraction(1, 1000),
                    pts=[0, 40, 80, 200, 240, 250, 300, 400])
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.avi"), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 1
    assert "AVI holds one frame rate, and this film's varies" in r.output and "use .mkv or .mp4" in r.output
    assert not re.search(r"[1-9]\d*frame", r.output)  # refused before a frame was colorized
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vfr.mkv"]


def test_cover_art_stays_cover_art_and_is_not_what_gets_colored(tiny_model, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "cover.jpg")
    src = ffmpeg(tmp_path / "in.mp4", "-i", str(tmp_path / "cover.jpg"), *lavfi_source(1), "-map", "0", "-map", "1",
                 "-map", "2", "-c:v:0", "mjpeg", "-disposition:v:0", "attached_pic", "-c:v:1", "libx264", "-c:a", "aac")
    dst = tmp_path / "o.mp4"
    said = colorize(tiny_model, src, dst)
    assert "is cover art: copied as it is" in said
    videos = [s for s in ffprobe(dst, "-show_streams")["streams"] if s["codec_type"] == "video"]
    assert [(v["codec_name"], v["disposition"]["attached_pic"]) for v in videos] == [("h264", 0), ("mjpeg", 1)]
    assert len(frame_pts(dst)) == 25  # the film was coloured, not the one-frame cover


def test_a_cut_with_an_edit_list_is_not_called_damaged(tiny_model, tmp_path):
    whole = ffmpeg(tmp_path / "whole.mp4", *lavfi_source(4), "-c:v", "libx264", "-c:a", "aac")
    src = ffmpeg(tmp_path / "cut.mp4", "-ss", "1.3", "-i", str(whole), "-c", "copy")  # starts between key frames
    said = colorize(tiny_model, src, tmp_path / "o.mp4")
    assert "damaged" not in said and "missing" not in said
    assert len(frame_pts(tmp_path / "o.mp4")) == decoded_frames(src)


@pytest.mark.parametrize("suffix,kept", [(".mkv", True), (".mp4", False)])
def test_an_empty_track_is_said_not_claimed_as_copied(tiny_model, tmp_path, suffix, kept):
    src = ffmpeg(tmp_path / "in.mkv", *lavfi_source(1), "-map", "0", "-map", "1", "-c:v", "libx264", "-c:a", "aac",
                 "-bsf:a", "noise=drop=1")  # every audio packet dropped: the track is there, empty
    dst = tmp_path / f"o{suffix}"
    said = colorize(tiny_model, src, dst)
    assert "warning: #1 audio (aac) holds no packets in the source: an empty track" in said
    assert "copied #1" not in said
    assert any(s["codec_type"] == "audio" for s in ffprobe(dst, "-show_streams")["streams"]) == kept
