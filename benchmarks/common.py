"""Small helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_measured(args: list[str]) -> tuple[float, float, int]:
    """Run a command; returns (seconds, peak RSS in MB of the child, exit code).

    Runs it under a fresh Python (`-c` wrapper) so ru_maxrss is that child's alone.
    """
    wrapper = (
        "import resource, subprocess, sys;"
        "rc = subprocess.call(sys.argv[1:]);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    rss_kb, rc = out.stdout.strip().splitlines()[-1].split()
    return seconds, int(rss_kb) / 1024, int(rc)


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn``, after ``warmup`` calls that do not count."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def median_ms(fn: Callable[[], object], frames: int, repeats: int = 15, warmup: int = 3) -> float:
    """Median milliseconds a frame of ``fn``, which handles ``frames`` frames a call."""
    return statistics.median(timed(fn, warmup, repeats)) / frames * 1000


QUALITY_AXES = (("psnr", "PSNR (dB, higher is better)"), ("ciede2000", "CIEDE2000 (lower is better)"))


def quality_figure(title: str):
    """(fig, axes): a PSNR panel and a CIEDE2000 panel, side by side (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fig.suptitle(title, fontsize=10)
    return fig, axes


def finish_quality_figure(fig, axes, grey: dict, xlabel: str, path: Path, legend: int = 1) -> None:
    """Grey's level (``grey['grey_psnr']``, ``grey['grey_ciede2000']``) on each panel, labels, legend; saved."""
    for ax, (key, name) in zip(axes, QUALITY_AXES, strict=True):
        ax.axhline(grey[f"grey_{key}"], color="grey", ls="--", label="grey")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[legend].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
