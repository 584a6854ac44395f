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
