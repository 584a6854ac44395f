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
