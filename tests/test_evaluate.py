import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO
from media import make_clip
from standins import constant, stand_in_colorizer

from filmcolor.cli import main
from filmcolor.evaluate import KEYS, score

PHOTO = REPO / "tests" / "data" / "photo.jpg"


def test_score_of_identical_pictures():
    rgb = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    s = score(rgb, rgb)
    assert s["psnr"] == float("inf")
    assert s["ssim"] == pytest.approx(1.0)
    assert s["ciede2000"] == pytest.approx(0.0, abs=1e-6)
    assert s["colorfulness"] == pytest.approx(s["colorfulness_truth"])
    assert s["colorfulness"] > 20


def test_score_agrees_with_opencv_psnr():
    rgb = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    noisy = np.clip(rgb.astype(int) + np.random.default_rng(0).integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
    assert score(noisy, rgb)["psnr"] == pytest.approx(cv2.PSNR(noisy, rgb), abs=1e-6)


def test_cli_photo_figures_match_an_independent_psnr(tiny_model, tmp_path):
    out = tmp_path / "saved"
    js = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["evaluate", str(PHOTO), "--model", str(tiny_model), "--size", "64",
                                  "--save", str(out), "--json", str(js)])
    assert r.exit_code == 0, r.output
    assert "photo.jpg" in r.output and "mean" in r.output
    results = json.loads(js.read_text())
    won = int(results[0]["psnr"] > results[0]["grey_psnr"])
    assert f"colour beats grey on {won} of 1 by PSNR" in r.output
    assert [x["path"] for x in results][-1] == "mean"
    entry = results[0]
    assert set(KEYS) <= set(entry)
    saved = cv2.imread(str(out / "photo.png"))
    truth = cv2.imread(str(PHOTO))
    assert entry["psnr"] == pytest.approx(cv2.PSNR(saved, truth), abs=1e-6)
    grey = cv2.cvtColor(cv2.cvtColor(truth, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert entry["grey_psnr"] == pytest.approx(cv2.PSNR(grey, truth), abs=0.5)


def test_cli_video_has_temporal_measures(tiny_model, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=12)
    js = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["evaluate", str(clip), "--model", str(tiny_model), "--size", "64",
                                  "--json", str(js), "--every", "3"])
    assert r.exit_code == 0, r.output
    entry = json.loads(js.read_text())[0]
    assert entry["kind"] == "video" and entry["frames"] == 12
    assert set(KEYS) <= set(entry)
    # a film shows progress, colouring and scoring (frames of a known total), unless -q
    assert "c.mp4: colour" in r.output and "c.mp4: score" in r.output and "0/12 " in r.output
    q = CliRunner().invoke(main, ["evaluate", str(clip), "--model", str(tiny_model), "--size", "64", "-q"])
    assert q.exit_code == 0 and "frame" not in q.output


def painter(flicker: bool):
    """One a/b for the whole frame; with ``flicker``, the opposite colour on every other call."""
    calls = [0]

    def paint(L):
        calls[0] += 1
        sign = -1.0 if flicker and calls[0] % 2 else 1.0
        return constant(sign * 20.0, sign * -20.0)(L)

    return paint


def test_temporal_measures_tell_flicker_from_steady_color(tmp_path):
    from filmcolor.evaluate import EvalOptions, evaluate_video
    from filmcolor.video import VideoOptions

    clip = make_clip(tmp_path / "c.mp4", frames=12)
    opts = EvalOptions(video=VideoOptions(smooth=False, batch_size=1))
    figures = {}
    for flicker in (False, True):
        c = stand_in_colorizer(painter(flicker))
        figures[flicker] = evaluate_video(c, clip, opts)
    steady, flickering = figures[False], figures[True]
    assert flickering["consistency"] > 5 * steady["consistency"] + 0.01
    assert flickering["warp_error"] > 2 * steady["warp_error"]
    # static pixels: the same colour frame after frame, or +-20 a/b every other frame
    assert steady["static_1"] < 1.0 < 40 < flickering["static_1"]
    assert steady["truth_static_1"] == flickering["truth_static_1"]  # the true film's own, the yardstick


def test_static_drift_sees_slow_change_only_within_a_shot_and_on_still_pixels():
    from filmcolor.metrics import chroma_spread, static_drift

    n, h, w = 40, 8, 8
    L = [np.full((h, w), 50.0, np.float32) for _ in range(n)]
    steady = [np.full((2, h, w), 10.0, np.float32) for _ in range(n)]
    drift = static_drift(L, steady, (1, 5, 25))
    assert drift == {1: 0.0, 5: 0.0, 25: 0.0}
    # colour that creeps 0.2 a-units a frame: small jitter, large drift over 25 frames
    creeping = [np.stack([np.full((h, w), 10 + 0.2 * t), np.zeros((h, w))]).astype(np.float32) for t in range(n)]
    d = static_drift(L, creeping, (1, 25))
    assert d[1] == pytest.approx(0.2, abs=1e-4) and d[25] == pytest.approx(5.0, abs=1e-3)
    assert chroma_spread(creeping) > 2 > chroma_spread(steady) == 0.0
    # two shots of different steady colours: nothing drifts within a shot
    two = steady[:20] + [np.full((2, h, w), -30.0, np.float32)] * 20
    assert static_drift(L, two, (1, 5), cuts=[20]) == {1: 0.0, 5: 0.0}
    assert static_drift(L, two, (1,))[1] > 0  # without the cut, the change counts
    assert chroma_spread(two, cuts=[20]) == 0.0 < chroma_spread(two)
    # where the lightness changes (something moved), colour may change: not counted
    moving = [np.where(np.arange(w) < 4, 50.0 + 5 * (t % 2), 50.0).astype(np.float32) * np.ones((h, 1)) for t in range(n)]
    painted = [np.where(m > 52, 40.0, 10.0).astype(np.float32)[None].repeat(2, 0) for m in moving]
    assert static_drift(moving, painted, (1,))[1] == 0.0


def test_cli_bad_inputs_keep_going(tiny_model, tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((40, 40), 100, np.uint8))
    r = CliRunner().invoke(main, ["evaluate", str(grey), str(tmp_path / "missing.jpg"), str(PHOTO),
                                  "--model", str(tiny_model), "--size", "64"])
    assert r.exit_code == 1
    assert "grey picture has no colour" in r.output and "no such file" in r.output
    assert "photo.jpg" in r.output and "Traceback" not in r.output


def test_beats_grey_counts_each_measure_its_own_way():
    from filmcolor.evaluate import beats_grey, with_mean

    rows = [
        {"kind": "photo", "psnr": 25.0, "grey_psnr": 24.0, "ciede2000": 9.0, "grey_ciede2000": 8.0},
        {"kind": "photo", "psnr": 20.0, "grey_psnr": 21.0, "ciede2000": 5.0, "grey_ciede2000": 6.0},
        {"kind": "photo", "psnr": 30.0, "grey_psnr": 29.0, "ciede2000": 4.0, "grey_ciede2000": 7.0},
    ]
    assert beats_grey(with_mean(rows)) == {"n": 3, "psnr": 2, "ciede2000": 2}


def test_find_inputs_recursive(tmp_path):
    from filmcolor.evaluate import find_inputs

    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jpg", "a/b/y.png", "a/b/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in find_inputs([tmp_path / "a"])] == ["x.jpg"]
    assert sorted(p.name for p in find_inputs([tmp_path / "a"], recursive=True)) == ["x.jpg", "y.png"]


def test_score_measures_a_cast_on_neutral_pixels():
    truth = np.zeros((40, 60, 3), np.uint8)
    truth[:, :30] = (200, 40, 40)  # red half: not neutral
    truth[:, 30:] = (128, 128, 128)  # grey half: neutral
    cast = truth.copy()
    cast[:, 30:] = (150, 120, 90)  # the grey half turned sepia
    exact, sepia = score(truth, truth), score(cast, truth)
    assert exact["neutral_share"] == pytest.approx(0.5)
    assert exact["neutral_chroma"] < 1
    assert sepia["neutral_chroma"] > 15
    assert np.isnan(score(truth[:, :30].copy(), truth[:, :30].copy())["neutral_chroma"])  # nothing neutral
