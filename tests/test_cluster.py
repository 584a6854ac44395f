"""A small local Ray run (filmcolor/cluster.py): a film's segments and a folder
of photos as Ray tasks, and a failing task named while the others finish."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from media import frame_pts, make_clip, packet_hashes
from PIL import Image

from filmcolor.cli import main

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe (apt-get install ffmpeg)")


@pytest.fixture(scope="module", autouse=True)
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_a_film_renders_on_ray_as_it_does_here(tiny_model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=72, size=(128, 96), audio="aac")
    args = ["--model", str(tiny_model), "--size", "64", "--codec", "ffv1", "--segment-seconds", "1"]
    here, there = tmp_path / "here.mkv", tmp_path / "there.mkv"
    assert CliRunner().invoke(main, ["video", str(src), str(here), *args]).exit_code == 0
    r = CliRunner().invoke(main, ["video", str(src), str(there), *args, "--ray", "auto"])
    assert r.exit_code == 0, r.output
    assert "rendered in 3 segments on Ray (" in r.output  # not here
    assert frame_pts(there) == frame_pts(here) and len(frame_pts(there)) == 72
    assert packet_hashes(there, "a") == packet_hashes(here, "a")
    assert not list(tmp_path.glob(".*.filmcolor"))


def test_a_folder_of_photos_goes_through_ray_and_a_bad_one_is_named(tiny_model, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((40, 60), 60 * i, np.uint8)).save(folder / f"p{i}.png")
    (folder / "broken.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["image", str(folder), "-o", str(out), "--model", str(tiny_model), "--size", "64",
                                  "--ray", "auto"])
    assert r.exit_code == 1
    assert f"error: {folder / 'broken.png'}: not a picture filmcolor can read" in r.output
    assert "4 colorized" in r.output and "on Ray (" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png", "p3.png"]


def test_ray_keeps_the_runners_contract(tmp_path):
    import runner_contract
    from ray import cloudpickle

    from filmcolor.cluster import RayRunner

    cloudpickle.register_pickle_by_value(runner_contract)  # Ray's workers cannot import the tests' modules

    workers = runner_contract.check_runner(RayRunner("auto"), tmp_path, here_is_the_worker=False)
    assert all("Ray task" in w for w in workers)


def test_a_failing_task_is_named_after_its_retries_and_the_others_finish():
    from filmcolor.cluster import RayRunner

    def work(key, progress):
        progress(1)
        if key == "bad":
            raise ValueError("this one is broken")
        return key.upper()

    seen = []
    outcomes = {o.key: o for o in RayRunner("auto").run(work, [(k, (k,)) for k in ("a", "bad", "c")], seen.append)}
    assert {k: o.result for k, o in outcomes.items() if o.error is None} == {"a": "A", "c": "C"}
    assert "this one is broken" in str(outcomes["bad"].error)
    assert sum(seen) >= 3  # counted as the tasks ran (the failing one once per try)


def test_several_films_go_through_ray_as_one_command(tiny_model, tmp_path):
    films = [make_clip(tmp_path / f"reel{i}.mp4", frames=10 + i, audio="aac") for i in range(3)]
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["video", *map(str, films), "-o", str(out), "--model", str(tiny_model),
                                  "--size", "64", "--ray", "auto"])
    assert r.exit_code == 0, r.output
    assert "3 of 3 films colorized on Ray (" in r.output
    assert [len(frame_pts(out / f.name)) for f in films] == [10, 11, 12]
