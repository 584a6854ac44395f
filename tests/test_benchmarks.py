"""Figures the benchmark scripts compute themselves (not timings)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def quality(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import quality

    return quality


def photo(path: Path, psnr_gain: float) -> dict:
    return {"path": str(path), "kind": "photo", "psnr": 20.0 + psnr_gain, "grey_psnr": 20.0}


def test_the_interval_resamples_whole_sources_not_photos(quality, tmp_path):
    # ten alike photos of one source that beats grey by 1 dB, one photo of another that loses 1 dB:
    # drawn by photo the gain would look sure; drawn by source, a draw of the second twice is as likely
    a, b = tmp_path / "a", tmp_path / "b"
    rows = [photo(a / f"{i}.jpg", 1.0) for i in range(10)] + [photo(b / "0.jpg", -1.0)]
    rows.append({"path": "mean", "kind": "mean", "psnr": 0.0, "grey_psnr": 0.0})  # evaluate's own row: left out
    mean, low, high = quality.source_interval(rows, [a, b], "psnr")
    assert mean == pytest.approx(9 / 11)
    assert low == pytest.approx(-1.0) and high == pytest.approx(1.0)
    # a photo outside every source is its folder's
    mean, low, high = quality.source_interval([photo(tmp_path / "c" / "x.jpg", 0.5)], [a, b], "psnr")
    assert (mean, low, high) == pytest.approx((0.5, 0.5, 0.5))



def test_the_film_benchmark_replays_the_networks_outputs_without_running_it(tmp_path, monkeypatch):
    # --replay takes the inference out and nothing else: the replayed film runs no network
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import video as bench
    from media import make_clip

    from filmcolor import Colorizer
    from filmcolor.network import Network
    from filmcolor.video import VideoOptions, colorize_video

    calls = []
    real_run = Network.run
    monkeypatch.setattr(Network, "run", lambda self, x, raw=False: calls.append(len(x)) or real_run(self, x, raw))
    clip = make_clip(tmp_path / "in.mp4", frames=12, size=(128, 96))
    colorize_video(Colorizer.load(device="cpu", size=64), clip, tmp_path / "one.mp4",
                   VideoOptions(preset="ultrafast", batch_size=4, key_interval=4))
    one_film = len(calls)
    assert one_film > 0
    calls.clear()
    t, c, r = bench.replayed(clip, 1, "ultrafast", 64, 4, 4)
    assert min(t, c, r) > 0
    assert len(calls) == 2 * one_film  # the recording run and the timed one; the replayed film none
