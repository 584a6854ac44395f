import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO
from media import make_clip

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
    assert entry["consistency"] >= 0 and entry["warp_error"] >= 0
    assert set(KEYS) <= set(entry)


def test_cli_bad_inputs_keep_going(tiny_model, tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((40, 40), 100, np.uint8))
    r = CliRunner().invoke(main, ["evaluate", str(grey), str(tmp_path / "missing.jpg"), str(PHOTO),
                                  "--model", str(tiny_model), "--size", "64"])
    assert r.exit_code == 1
    assert "grey picture has no colour" in r.output and "no such file" in r.output
    assert "photo.jpg" in r.output and "Traceback" not in r.output
