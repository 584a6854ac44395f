"""Long films in segments (filmcolor/segments.py): the same film as one pass,
resumed after an interruption, rendered by several processes."""

from __future__ import annotations

import re
import shutil

import av
import numpy as np
import pytest
from click.testing import CliRunner
from media import frame_pts, make_clip, packet_hashes

from filmcolor import segments
from filmcolor.cli import main
from filmcolor.errors import OutputError

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe (apt-get install ffmpeg)")


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """4 s at 24 fps with a cut at 2.5 s, B-frames and sound: four 1-second segments."""
    path = tmp_path_factory.mktemp("film") / "film.mp4"
    return make_clip(path, frames=96, size=(128, 96), audio="aac", cut_at=60, options={"bf": "2", "g": "30"})


def frames_of(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv444p") for f in c.decode(video=0)]


def run(tiny_model, src, dst, *extra):
    r = CliRunner().invoke(main, ["video", str(src), str(dst), "--model", str(tiny_model), "--size", "64",
                                  "--codec", "ffv1", *map(str, extra)])
    return r


def test_the_plan_cuts_at_frames_and_seeks_to_key_frames(film):
    segs, why = segments.plan(film, 1.0)
    assert why is None and len(segs) == 4
    assert sum(s.frames for s in segs) == 96
    assert [s.seek for s in segs][0] is None and all(s.seek is not None and s.seek <= s.warm for s in segs[1:])
    assert all(a.end == b.start for a, b in zip(segs[:-1], segs[1:], strict=True)) and segs[-1].end is None


def test_segments_give_the_film_one_pass_gives(tiny_model, tmp_path, film):
    one, cut = tmp_path / "one.mkv", tmp_path / "cut.mkv"
    assert run(tiny_model, film, one, "--segment-seconds", "0").exit_code == 0
    r = run(tiny_model, film, cut, "--segment-seconds", "1")
    assert r.exit_code == 0, r.output
    assert "rendered in 4 segments" in r.output
    assert "warning:" not in r.output  # a clean film: no damage booked at any seam
    assert frame_pts(cut) == frame_pts(one) and len(frame_pts(cut)) == 96
    assert packet_hashes(cut, "a") == packet_hashes(one, "a")
    assert [h for _, h in packet_hashes(cut, "a")] == [h for _, h in packet_hashes(film, "a")]
    a, b = frames_of(one), frames_of(cut)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))  # luma: the source's, lossless
    # colour: each segment is warmed up on the frames before it (from a shot's start here, so
    # exactly as in one piece; on long shots within a fraction of a level: benchmarks/segments.py)
    diff = max(np.abs(x[1:].astype(int) - y[1:].astype(int)).mean() for x, y in zip(a, b, strict=True))
    assert diff < 0.05, diff
    assert not list(tmp_path.glob(".*filmcolor"))  # the work folder is gone


@pytest.mark.parametrize("codec", ["libvpx-vp9", "libsvtav1"])
def test_vp9_and_av1_render_in_segments_as_in_one_piece(tiny_model, tmp_path, codec):
    # their segments cannot be QuickTime files; AV1's decoder names no encoder (the join copies it)
    src = make_clip(tmp_path / "in.mkv", frames=36, fps=24, size=(96, 64))
    one, cut = tmp_path / "one.mkv", tmp_path / "cut.mkv"
    assert run(tiny_model, src, one, "--segment-seconds", "0", "--codec", codec).exit_code == 0
    r = run(tiny_model, src, cut, "--segment-seconds", "0.5", "--codec", codec)
    assert r.exit_code == 0, r.output
    assert re.search(r"rendered in [2-9] segments", r.output), r.output
    assert frame_pts(cut) == frame_pts(one) and len(frame_pts(cut)) == 36


def test_a_render_that_fails_before_any_segment_leaves_no_work_folder(tiny_model, tmp_path, film, monkeypatch):
    def broken(*a, **kw):
        raise OutputError("the disk is full")

    monkeypatch.setattr(segments, "render_segment", broken)
    r = run(tiny_model, film, tmp_path / "o.mkv", "--segment-seconds", "1")
    assert r.exit_code == 1 and "the disk is full" in r.output
    assert not list(tmp_path.glob(".*filmcolor")) and not (tmp_path / "o.mkv").exists()


def test_an_interrupted_render_resumes_where_it_stopped(tiny_model, tmp_path, film, monkeypatch):
    whole = tmp_path / "whole.mkv"
    assert run(tiny_model, film, whole, "--segment-seconds", "1").exit_code == 0
    real, rendered = segments.render_segment, []

    def stopped_after_two(src, seg_path, opts, seg, *a, **kw):
        if len(rendered) == 2:
            raise KeyboardInterrupt
        rendered.append(seg.index)
        return real(src, seg_path, opts, seg, *a, **kw)

    monkeypatch.setattr(segments, "render_segment", stopped_after_two)
    dst = tmp_path / "o.mkv"
    assert run(tiny_model, film, dst, "--segment-seconds", "1").exit_code == 130
    assert not dst.exists() and (tmp_path / ".o.mkv.filmcolor" / "manifest.json").exists()
    monkeypatch.setattr(segments, "render_segment", lambda *a, **kw: rendered.append(a[3].index) or real(*a, **kw))
    r = run(tiny_model, film, dst, "--segment-seconds", "1")
    assert r.exit_code == 0, r.output
    assert "resuming: 2 of 4 segments already rendered" in r.output
    assert "96 frames (48 rendered now, 48 kept from the interrupted render)" in r.output
    assert rendered == [0, 1, 2, 3]  # 0 and 1 before the interruption, 2 and 3 after it: none twice
    assert frame_pts(dst) == frame_pts(whole)
    assert all(np.array_equal(x, y) for x, y in zip(frames_of(dst), frames_of(whole), strict=True))
    assert not (tmp_path / ".o.mkv.filmcolor").exists()


def test_a_changed_option_starts_afresh_and_restart_ignores(tiny_model, tmp_path, film, monkeypatch):
    real, calls = segments.render_segment, []

    def stop_at_once(*a, **kw):
        if not calls:
            calls.append(1)
            return real(*a, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(segments, "render_segment", stop_at_once)
    dst = tmp_path / "o.mkv"
    assert run(tiny_model, film, dst, "--segment-seconds", "1").exit_code == 130
    monkeypatch.setattr(segments, "render_segment", real)
    r = run(tiny_model, film, dst, "--segment-seconds", "1", "--key-interval", "2")
    assert r.exit_code == 0 and "starting afresh: the earlier, unfinished render differs in options" in r.output
    assert "resuming" not in r.output


def test_workers_render_the_same_film(tiny_model, tmp_path, film):
    one, two = tmp_path / "one.mkv", tmp_path / "two.mkv"
    assert run(tiny_model, film, one, "--segment-seconds", "1").exit_code == 0
    r = run(tiny_model, film, two, "--segment-seconds", "1", "--workers", "2")
    assert r.exit_code == 0, r.output
    # by the pool's processes, not here one after another (a worker slow to start may leave all to the other)
    assert re.search(r"rendered in 4 segments by [12] processes", r.output), r.output
    assert frame_pts(two) == frame_pts(one)
    assert all(np.array_equal(x, y) for x, y in zip(frames_of(one), frames_of(two), strict=True))


def test_several_films_into_a_folder_go_on_past_a_bad_one(tiny_model, tmp_path):
    a = make_clip(tmp_path / "a.mp4", frames=12, audio="aac")
    b = make_clip(tmp_path / "b.mkv", frames=10)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a film")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["video", str(a), str(bad), str(b), "-o", str(out), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 1
    assert f"error: {bad}: not a video" in r.output and f"{bad}: {bad}" not in r.output  # named once
    assert f"2 of 3 films colorized; failed: {bad}" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv"]
    assert len(frame_pts(out / "a.mp4")) == 12 and len(frame_pts(out / "b.mkv")) == 10


def test_two_films_of_one_name_never_overwrite_each_other(tiny_model, tmp_path):
    (tmp_path / "reel1").mkdir()
    (tmp_path / "reel2").mkdir()
    one = make_clip(tmp_path / "reel1" / "film.mp4", frames=6)
    two = make_clip(tmp_path / "reel2" / "film.mp4", frames=9)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["video", str(one), str(two), "-o", str(out), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 1
    assert f"error: {two}: output {out / 'film.mp4'} would overwrite the result of {one}" in r.output
    assert f"1 of 2 films colorized; failed: {two}" in r.output
    assert len(frame_pts(out / "film.mp4")) == 6  # reel1's film, not replaced by reel2's
    # an existing output is replaced, and said so
    r = CliRunner().invoke(main, ["video", str(one), str(out / "film.mp4"), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 0 and f"note: replacing {out / 'film.mp4'}" in r.output, r.output
    r = CliRunner().invoke(main, ["video", str(one), str(tmp_path / "new.mp4"), "--model", str(tiny_model),
                                  "--size", "64"])
    assert r.exit_code == 0 and "replacing" not in r.output


def test_in_out_or_a_folder(tiny_model, tmp_path):
    a = make_clip(tmp_path / "a.mp4", frames=4)
    r = CliRunner().invoke(main, ["video", str(a), str(a), str(tmp_path / "o.mp4")])
    assert r.exit_code == 2 and "give IN OUT, or several films and -o FOLDER" in r.output


def test_damage_is_skipped_and_said_as_in_one_piece(tiny_model, tmp_path):
    from test_video import garble

    src = make_clip(tmp_path / "in.mkv", frames=48)
    bad = tmp_path / "bad.mkv"
    garble(src, bad, {30, 31})  # two packets of the second segment turned to noise
    outputs = {}
    for seconds in ("0", "0.5"):
        r = run(tiny_model, bad, tmp_path / f"o{seconds}.mkv", "--segment-seconds", seconds, "-q")
        assert r.exit_code == 0, r.output
        assert "warning: damaged video: 2 packets refused by the decoder" in r.output
        outputs[seconds] = frame_pts(tmp_path / f"o{seconds}.mkv")
    assert outputs["0"] == outputs["0.5"] and len(outputs["0"]) == 46


def test_a_segment_whose_seek_lands_late_is_refused(tiny_model, tmp_path, film):
    from dataclasses import replace

    from filmcolor.errors import InputError
    from filmcolor.modelspec import ModelSpec
    from filmcolor.video import VideoOptions

    segs, _ = segments.plan(film, 1.0)
    with av.open(str(film)) as c:
        keys = [p.pts for p in c.demux(video=0) if p.size and p.is_keyframe]
    inside = next(k for k in keys if segs[2].start < k < segs[2].end)
    late = replace(segs[2], seek=inside)  # a demuxer that lands on the key frame after the one asked for
    out = tmp_path / "seg.nut"
    with pytest.raises(InputError, match="seeking in this file is not exact"):
        segments.render_segment(str(film), str(out), VideoOptions(codec="ffv1"), late,
                                ModelSpec(str(tiny_model), "cpu", 64))
    assert not out.exists() and not out.with_suffix(".json").exists()
    # the same segment sought where the plan says: done, and marked so
    report = segments.render_segment(str(film), str(out), VideoOptions(codec="ffv1"), segs[2],
                                     ModelSpec(str(tiny_model), "cpu", 64))
    assert report.frames == segs[2].frames and out.with_suffix(".json").exists()


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stopped_pool_keeps_every_finished_segment_and_the_rerun_renders_the_rest(tiny_model, tmp_path, sig, code):
    import os
    import signal
    import subprocess
    import sys
    import time

    src = make_clip(tmp_path / "long.mp4", frames=240, size=(128, 96), audio="aac", options={"g": "24"})
    dst = tmp_path / "o.mkv"
    work = tmp_path / ".o.mkv.filmcolor"
    args = [sys.executable, "-m", "filmcolor", "video", str(src), str(dst), "--model", str(tiny_model),
            "--size", "64", "--codec", "ffv1", "--segment-seconds", "1", "--workers", "2"]
    # a shell's background job starts with SIGINT ignored, which Python keeps: restored for the child
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    # a segment is done once it is at its own name (its report is written just before)
    while not list(work.glob("seg_*.nut")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    t = time.monotonic()
    proc.send_signal(getattr(signal, sig))
    proc.communicate(timeout=30)
    assert proc.returncode == code and time.monotonic() - t < 15  # at once, not after the 10 segments
    done = sorted(p.stem for p in work.glob("seg_*.nut"))
    reports = {p.stem for p in work.glob("seg_*.json")}
    # every finished segment kept with its report; no half one at its name
    assert done and set(done) <= reports, (done, reports)
    assert len(done) < 10
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"resuming: {len(done)} of 10 segments already rendered" in r.stderr
    assert f"{240 - 24 * len(done)} rendered now, {24 * len(done)} kept" in r.stderr
    assert len(frame_pts(dst)) == 240 and not work.exists()
    assert os.path.getsize(dst) > 0


def test_an_edit_list_that_hides_leading_frames_renders_in_segments_as_in_one_piece(tiny_model, tmp_path):
    import subprocess

    long = make_clip(tmp_path / "long.mp4", frames=150, fps=25, audio="aac", options={"g": "50"})
    cut = tmp_path / "cut.mp4"  # cut by stream copy between key frames: the frames before 1.3 s are hidden
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "1.3", "-i", str(long), "-c", "copy", "-t", "3", str(cut)],
                   check=True)
    with av.open(str(cut)) as c:
        assert any(p.is_discard for p in c.demux(video=0) if p.size)
    one, cut_up = tmp_path / "one.mkv", tmp_path / "segments.mkv"
    assert run(tiny_model, cut, one, "--segment-seconds", "0").exit_code == 0
    r = run(tiny_model, cut, cut_up, "--segment-seconds", "1")
    assert r.exit_code == 0, r.output
    assert re.search(r"rendered in [2-9] segments", r.output)
    assert frame_pts(cut_up) == frame_pts(one) and len(frame_pts(one)) > 60
    assert "coloured along the motion" not in r.output  # segments colour overlapping frames: no honest sum


def test_a_second_run_on_the_same_output_is_refused_while_the_first_lives(tiny_model, tmp_path, film):
    from filmcolor import manifest

    dst = tmp_path / "o.mkv"
    with manifest.locked(dst):  # as a first run holds it
        r = run(tiny_model, film, dst, "--segment-seconds", "1")
        assert r.exit_code == 1 and "another filmcolor (pid " in r.output and f"is rendering {dst}" in r.output
        assert not dst.exists()
    r = run(tiny_model, film, dst, "--segment-seconds", "1")  # the first has ended: the lock went with it
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mkv"]  # no lock file, no work folder left


def test_a_new_bundled_model_does_not_resume_an_old_ones_segments(tmp_path, film, monkeypatch):
    from filmcolor import manifest
    from filmcolor.modelspec import ModelSpec
    from filmcolor.video import VideoOptions

    bundled = tmp_path / "default.onnx"
    bundled.write_bytes(b"one model")
    # films on the CPU run the bundled int8 copy, elsewhere the float file: each is its own colour
    float_id, int8_id = (manifest.identity(film, VideoOptions(), ModelSpec(None, "cpu", None, films=f), 10.0)["model"]
                         for f in (False, True))
    assert float_id != int8_id and "int8" in int8_id[0]
    monkeypatch.setattr(manifest, "bundled_path", lambda device, films: bundled)
    spec = ModelSpec(None, "cpu", None, films=True)  # no --model: the bundled one
    before = manifest.identity(film, VideoOptions(), spec, 10.0)
    assert manifest.identity(film, VideoOptions(), spec, 10.0) == before
    bundled.write_bytes(b"another model, as a new filmcolor brings")
    assert manifest.identity(film, VideoOptions(), spec, 10.0)["model"] != before["model"]
