"""benchmarks/gpu_check.py, run with --quick: what it records with and without CUDA."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
DEVICE_PARTS = ("cuda_tests", "colour_photos", "colour_film", "network_ab", "video_speed")
HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
# gpu_check runs `pytest -m cuda`: these tests, should they be marked so, must not run it again from there
pytestmark = pytest.mark.skipif(bool(os.environ.get("FILMCOLOR_GPU_CHECK_CHILD")), reason="inside gpu_check")


def run_check(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "gpu_check.json"
    r = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out), *args],
                       cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.exists()
    return r, json.loads(out.read_text())


def test_quick_run_records_machine_and_skips_cuda_without_it(tmp_path):
    r, data = run_check(tmp_path)
    machine = data["machine"]
    assert machine["status"] == "ok"
    assert machine["cpu_count"] == os.cpu_count()
    assert machine["onnxruntime"] == ort.__version__
    assert machine["providers"] == ort.get_available_providers()
    assert data["check"]["quick"] is True
    speed = data["network_speed"]
    assert speed["status"] == "ok"
    assert speed["cpu"]["batch"] == 8 and speed["cpu"]["size"] == 128
    assert 0 < speed["cpu"]["fps"] < math.inf
    if HAS_CUDA:
        for name in DEVICE_PARTS:
            assert data[name]["status"] not in ("skipped", "error", "timeout"), (name, data[name])
        assert "skipped" not in speed["accel"] and speed["accel"]["rows"]
    else:
        for name in DEVICE_PARTS:
            assert data[name]["status"] == "skipped", name
            assert data[name]["skipped"].startswith("no CUDA provider: "), data[name]
            assert "CPUExecutionProvider" in data[name]["skipped"]  # says what there is instead
        assert speed["accel"]["skipped"].startswith("no CUDA provider: ")
    assert "network_speed" in r.stdout and "CPU fp32 batch 8 at 128" in r.stdout


def test_every_part_runs_with_the_cpu_as_the_device(tmp_path):
    """--device cpu runs the CUDA parts on the CPU: all of the script's code, differences 0."""
    _, data = run_check(tmp_path, "--device", "cpu")
    for name in ("machine", *DEVICE_PARTS, "network_speed"):
        assert data[name]["status"] == "ok", (name, data[name])
    assert data["machine"]["accelerator"]["ok"] is True
    assert data["cuda_tests"]["exit_code"] in (0, 5)  # nothing marked cuda yet: 5
    photos = data["colour_photos"]
    assert [p["photo"] for p in photos["photos"]] == ["street.jpg", "livingroom.jpg", "grandfather.jpg"]
    assert photos["max_abs"] == 0 and photos["min_psnr_db"] is None  # the CPU against itself
    film = data["colour_film"]
    assert film["frames"] == film["cpu_frames"] == film["accel_frames"] == 6
    assert film["mean_abs"] == 0
    ab = data["network_ab"]
    assert ab["fp32"]["max_abs"] == 0
    if "skipped" not in ab["fp16"]:  # fp16 differs, a little
        assert ab["fp16"]["finite"] and 0 < ab["fp16"]["relative"] < 0.05, ab["fp16"]
    rows = data["network_speed"]["accel"]["rows"]
    assert {(r["size"], r["batch"]) for r in rows} == {(64, 2), (64, 4)}
    assert all(r["fps"] > 0 and r["bound_fps"] > 0 for r in rows), rows
    video = data["video_speed"]
    assert video["transcode_frames"] == video["filmcolor_cpu_frames"] == 8
    assert video["transcode_fps"] > 0 and video["filmcolor_cpu_ratio"] > 0


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import gpu_check

    return gpu_check


def test_a_part_past_its_time_is_killed_and_recorded(gpu_check, tmp_path):
    plan = gpu_check.Plan(quick=True, device="cpu")
    rec = gpu_check.run_part("colour_photos", plan, timeout=0.2, tmp=tmp_path)
    assert rec["status"] == "timeout"
    assert "killed after" in rec["error"]
    assert rec["seconds"] < 10


def test_no_part_starts_without_time_left(gpu_check, tmp_path):
    out = tmp_path / "g.json"
    assert gpu_check.main(["--quick", "--budget", "0", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    for name in gpu_check.PARTS:
        assert data[name]["status"] == "skipped"
        assert data[name]["skipped"].startswith("out of time"), data[name]
