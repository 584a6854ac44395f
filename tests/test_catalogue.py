"""What an archive catalogues goes through (issue 22, item 1): the container's
title, date and comment, each stream's language, title and default flag, the
chapters, a DV file's timecode; read back with ffprobe. What an output container
cannot hold is said."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from media import ffprobe, make_clip
from test_archive import colorize, ffmpeg

from filmcolor.cli import main

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (apt-get install ffmpeg)")

CHAPTERS = """;FFMETADATA1
title=Reel One
date=1952
comment=Archive scan 2019
""" + "".join(f"""
[CHAPTER]
TIMEBASE=1/1000
START={i * 700}
END={(i + 1) * 700}
title={name}
""" for i, name in enumerate(("Opening", "Street", "End")))


@pytest.fixture(scope="module")
def catalogued(tmp_path_factory):
    """2 s, a titled video, an English track first (Vorbis: re-encoded for .mp4/.mov) and a
    French one, the default, after it; three chapters; the film's title, date and comment."""
    folder = tmp_path_factory.mktemp("catalogue")
    meta = folder / "meta.txt"
    meta.write_text(CHAPTERS)
    return ffmpeg(folder / "src.mkv", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=2",
                  "-f", "lavfi", "-i", "sine=f=440:duration=2", "-f", "lavfi", "-i", "sine=f=660:duration=2",
                  "-i", str(meta), "-map", "0", "-map", "1", "-map", "2", "-map_metadata", "3", "-map_chapters", "3",
                  "-c:v", "libx264", "-c:a:0", "libvorbis", "-c:a:1", "aac",
                  "-metadata:s:v:0", "title=Main picture", "-metadata:s:v:0", "language=eng",
                  "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=English",
                  "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Français",
                  "-disposition:a:0", "0", "-disposition:a:1", "default")


def catalogue(path) -> dict:
    d = ffprobe(path, "-show_format", "-show_streams", "-show_chapters")
    tags = {k.lower(): v for k, v in d["format"].get("tags", {}).items()}
    streams = [(s["codec_type"], s.get("tags", {}).get("language"), s.get("tags", {}).get("title"),
                s["disposition"]["default"]) for s in d["streams"] if s["codec_type"] in ("video", "audio")]
    chapters = [(round(float(c["start_time"]), 2), c.get("tags", {}).get("title")) for c in d["chapters"]]
    return {"title": tags.get("title"), "date": tags.get("date"), "comment": tags.get("comment"),
            "streams": streams, "chapters": chapters}


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".mov"])
@pytest.mark.parametrize("segments", ["0", "0.5"])
def test_the_catalogue_goes_through(tiny_model, tmp_path, catalogued, suffix, segments):
    out = tmp_path / f"out{suffix}"
    said = colorize(tiny_model, catalogued, out, "--segment-seconds", segments)
    src, got = catalogue(catalogued), catalogue(out)
    assert (got["title"], got["date"], got["comment"]) == ("Reel One", "1952", "Archive scan 2019")
    assert got["chapters"] == src["chapters"] == [(0.0, "Opening"), (0.7, "Street"), (1.4, "End")]
    # languages in the source's order, the re-encoded English track still first and the French the default
    assert [(t, lang) for t, lang, *_ in got["streams"]] == [("video", "eng"), ("audio", "eng"), ("audio", "fra")]
    assert [default for *_, default in got["streams"][1:]] == [0, 1]
    if suffix == ".mkv":
        assert [title for *_, title, _ in got["streams"]] == ["Main picture", "English", "Français"]
    else:  # QuickTime writes a track's title as its "name" (this FFmpeg's ffprobe does not show it): in the file
        data = out.read_bytes()
        assert all(t.encode() in data for t in ("Main picture", "English", "Français"))
    assert "cannot hold" not in said and "warning" not in said, said


def test_what_the_output_cannot_hold_is_said_once(tiny_model, tmp_path, catalogued):
    out = tmp_path / "out.avi"  # AVI keeps the film's title, date and comment, but no languages or chapters
    said = colorize(tiny_model, catalogued, out)
    got = catalogue(out)
    assert (got["title"], got["date"], got["comment"]) == ("Reel One", "1952", "Archive scan 2019")
    assert got["chapters"] == [] and [lang for _, lang, *_ in got["streams"]] == [None, None, None]
    lines = [line for line in said.splitlines() if "cannot hold" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: .avi cannot hold"), said
    assert "language 'fra'" in lines[0] and "3 of 3 chapters" in lines[0]


def test_a_dv_files_timecode_and_frame_rate_go_through(tiny_model, tmp_path):
    src = ffmpeg(tmp_path / "tape.dv", "-f", "lavfi", "-i", "testsrc=size=720x576:rate=25:duration=1",
                 "-pix_fmt", "yuv420p", "-c:v", "dvvideo", "-timecode", "10:11:12:13")
    out = tmp_path / "out.mov"
    colorize(tiny_model, src, out, "--preset", "ultrafast")
    streams = ffprobe(out, "-show_streams")["streams"]
    assert [s["codec_type"] for s in streams] == ["video", "data"]  # a QuickTime timecode track
    assert streams[0]["tags"]["timecode"] == streams[1]["tags"]["timecode"] == "10:11:12:13"
    assert streams[0]["avg_frame_rate"] == "25/1"  # raw DV's own average says 60000 fps


def test_an_rgb_source_plays_everywhere_unless_asked(tiny_model, tmp_path):
    src = ffmpeg(tmp_path / "rgb.avi", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=0.4",
                 "-pix_fmt", "bgr24", "-c:v", "rawvideo")

    def written(name, *extra):
        said = colorize(tiny_model, src, tmp_path / name, "--preset", "ultrafast", *extra)
        return ffprobe(tmp_path / name, "-show_streams")["streams"][0]["pix_fmt"], said

    fmt, said = written("plays.mp4")
    assert fmt == "yuv420p" and "--pix-fmt yuv444p keeps 4:4:4" in said
    assert written("asked.mp4", "--pix-fmt", "yuv444p")[0] == "yuv444p"
    assert written("lossless.mkv", "--codec", "ffv1")[0] == "yuv444p"  # FFV1 is not for delivery: kept whole
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "no.mp4"), "--model", str(tiny_model),
                                  "--size", "64", "--pix-fmt", "rgb24"])
    assert r.exit_code == 1 and "--pix-fmt rgb24: libx264 cannot encode" in r.output
    assert not (tmp_path / "no.mp4").exists()


def test_streams_that_are_not_content_are_dropped_with_a_note(tiny_model, tmp_path):
    disc = ffmpeg(tmp_path / "VTS_01_1.VOB", "-f", "lavfi", "-i", "testsrc2=size=720x576:rate=25:duration=1",
                  "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "mpeg2video", "-c:a", "mp2", "-f", "dvd")
    assert ffprobe(disc, "-show_streams")["streams"][0]["codec_name"] == "dvd_nav_packet"  # as every disc has
    for suffix in (".mkv", ".mp4"):
        said = colorize(tiny_model, disc, tmp_path / f"disc{suffix}")
        assert "#0 data (dvd_nav_packet) dropped: DVD navigation" in said
        assert [s["codec_type"] for s in ffprobe(tmp_path / f"disc{suffix}", "-show_streams")["streams"]] == \
            ["video", "audio"]


def test_a_quicktime_films_chapter_track_goes_as_chapters(tiny_model, tmp_path, catalogued):
    first = tmp_path / "first.mp4"  # filmcolor's own .mp4: its chapters are a text track there
    colorize(tiny_model, catalogued, first)
    assert "data" in [s["codec_type"] for s in ffprobe(first, "-show_streams")["streams"]]
    for suffix in (".mkv", ".mp4"):
        said = colorize(tiny_model, first, tmp_path / f"again{suffix}")
        assert "dropped: the chapter track of a QuickTime file" in said
        assert catalogue(tmp_path / f"again{suffix}")["chapters"] == catalogue(catalogued)["chapters"]
    mkv = catalogue(tmp_path / "again.mkv")
    assert [title for *_, title, _ in mkv["streams"]] == ["Main picture", "English", "Français"]  # "name" -> title


def test_drop_leaves_streams_out_and_a_refusal_names_the_ways_out(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=12, audio="aac", subtitles=True)
    r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "o.mp4"), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 1
    assert "cannot go into .mp4; use .mkv, which holds it, or drop it with --drop 2" in r.output, r.output
    said = colorize(tiny_model, src, tmp_path / "o.mp4", "--drop", "s")
    assert "#2 subtitle (srt) dropped (--drop)" in said
    assert [s["codec_type"] for s in ffprobe(tmp_path / "o.mp4", "-show_streams")["streams"]] == ["video", "audio"]
    said = colorize(tiny_model, src, tmp_path / "o.mkv", "--drop", "a:0")
    assert [s["codec_type"] for s in ffprobe(tmp_path / "o.mkv", "-show_streams")["streams"]] == ["video", "subtitle"]
    for spec, says in (("9", "the source has no such stream"), ("v:0", "that is the film being colorized"),
                       ("x", "give a stream number")):
        r = CliRunner().invoke(main, ["video", str(src), str(tmp_path / "n.mkv"), "--model", str(tiny_model),
                                      "--size", "64", "--drop", spec])
        assert r.exit_code == 1 and f"--drop {spec}: {says}" in r.output, r.output


def test_a_font_attachment_is_copied_without_a_false_alarm(tiny_model, tmp_path):
    font = tmp_path / "font.ttf"
    font.write_bytes(bytes(range(256)) * 8)
    src = ffmpeg(tmp_path / "subbed.mkv", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=0.5",
                 "-c:v", "libx264", "-attach", str(font), "-metadata:s:t", "mimetype=application/x-truetype-font")
    said = colorize(tiny_model, src, tmp_path / "o.mkv")
    assert "warning" not in said and "#1 attachment" in said  # named among the copied streams
    [att] = [s for s in ffprobe(tmp_path / "o.mkv", "-show_streams")["streams"] if s["codec_type"] == "attachment"]
    assert int(att["extradata_size"]) == len(font.read_bytes())


def test_a_progress_bar_past_the_headers_count_goes_on_without_a_total():
    import io

    from tqdm import tqdm

    from filmcolor.cli.films import _advance

    with tqdm(total=68, file=io.StringIO()) as bar:
        _advance(bar, 60)
        assert bar.total == 68
        _advance(bar, 384)  # the header promised 68 frames; the film has 444
        assert bar.total is None and bar.n == 444


def alpha_planes(path) -> np.ndarray:
    """Every frame's alpha as FFmpeg's command line decodes it, 16-bit."""
    d = ffprobe(path, "-show_streams")["streams"][0]
    w, h = d["width"], d["height"]
    # WebM's VP9 alpha is decoded by libvpx only (FFmpeg's own VP9 decoder leaves it out)
    libvpx = ["-c:v", "libvpx-vp9"] if d["codec_name"] == "vp9" else []
    raw = subprocess.run(["ffmpeg", "-v", "error", *libvpx, "-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt",
                          "yuva444p16le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint16).reshape(-1, 4, h, w)[:, 3].astype(int)


GRADIENT = "format=yuva444p10le,geq=lum='lum(X,Y)':cb='cb(X,Y)':cr='cr(X,Y)':a='X*10'"  # alpha 0..950 of 1023


@pytest.mark.parametrize(("name", "made", "codec", "fmt"), [
    ("cel.mov", ["-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuva444p10le"], "prores", "yuva444p12le"),
    ("cel.mkv", ["-c:v", "ffv1", "-pix_fmt", "yuva420p"], "ffv1", "yuva420p"),
    ("cel.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-lossless", "1"], "ffv1", "yuva420p"),
    ("cel.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-lossless", "1"], "libvpx-vp9", "yuv420p"),
])
def test_alpha_is_kept_where_the_codec_holds_it(tiny_model, tmp_path, name, made, codec, fmt):
    src = ffmpeg(tmp_path / name, "-f", "lavfi", "-i", f"testsrc2=size=96x64:rate=24:duration=0.3,{GRADIENT}", *made)
    out = tmp_path / f"out{'.mkv' if codec == 'ffv1' else src.suffix}"  # VP9 keeps alpha as WebM's alpha_mode
    said = colorize(tiny_model, src, out, "--codec", codec)
    assert "alpha channel (transparency) is kept" in said and "opaque" not in said
    assert ffprobe(out, "-show_streams")["streams"][0]["pix_fmt"] == fmt
    a, b = alpha_planes(src), alpha_planes(out)
    assert a.shape == b.shape and a.max() - a.min() > 30000  # a real gradient, not all opaque
    assert np.abs(a - b).max() <= (64 if codec == "prores" else 2570 if codec == "libvpx-vp9" else 0)
    # ProRes is lossy by about a 10-bit code, lossy VP9 by up to 10 8-bit codes; FFV1 exact


@pytest.mark.parametrize(("name", "args"), [
    ("alpha.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p"]),
    ("alpha.mov", ["-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuva444p10le"]),
])
def test_a_source_with_alpha_says_it_is_lost(tiny_model, tmp_path, name, args):
    src = ffmpeg(tmp_path / name, "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=0.3,format=yuva420p",
                 *args)
    said = colorize(tiny_model, src, tmp_path / "o.mp4")  # x264 has no alpha
    assert "warning: source has an alpha channel (transparency), which filmcolor does not keep" in said
    plain = colorize(tiny_model, make_clip(tmp_path / "plain.mp4", frames=6), tmp_path / "p.mkv")
    assert "alpha channel" not in plain
