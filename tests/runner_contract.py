"""What every runner (filmcolor/runners.py, filmcolor/cluster.py) must do, as one
check that test_runners.py runs on the serial and process-pool runners and
test_cluster.py on Ray. Task functions live here, at module level, so that
spawned processes and Ray workers can import them."""

from __future__ import annotations

import os
from pathlib import Path

from filmcolor.errors import InputError


def double(n: int, progress=None) -> tuple[int, int]:
    progress(n)
    return 2 * n, os.getpid()


def fails_once(marker: str, progress=None) -> str:
    """Crashes on its first try (a marker file says whether it was tried), then works."""
    tries = Path(marker)
    tries.write_text(tries.read_text() + "x" if tries.exists() else "x")
    if len(tries.read_text()) == 1:
        raise RuntimeError("a worker crashed")
    return "fine"


def refuses(marker: str, progress=None) -> None:
    """Answers like a bad input: the same on any try, so never retried."""
    tries = Path(marker)
    tries.write_text(tries.read_text() + "x" if tries.exists() else "x")
    raise InputError("not a film")


def check_runner(runner, tmp_path: Path, here_is_the_worker: bool) -> set[str]:
    """Run the contract on ``runner``; returns the workers the tasks ran on."""
    seen: list[int] = []
    outcomes = list(runner.run(double, [(n, (n,)) for n in range(1, 7)], seen.append))
    assert sorted(o.key for o in outcomes) == [1, 2, 3, 4, 5, 6]
    assert all(o.error is None and o.result[0] == 2 * o.key for o in outcomes)
    assert sum(seen) == 21  # every progress count reached the caller
    pids = {o.result[1] for o in outcomes}
    assert (pids == {os.getpid()}) == here_is_the_worker, pids  # which runner ran them
    assert all(f"pid {o.result[1]}" in o.worker for o in outcomes)
    # a crash is retried; a refusal is not
    again = tmp_path / "again"
    [retried] = runner.run(fails_once, [("a", (str(again),))], seen.append)
    assert retried.error is None and retried.result == "fine" and again.read_text() == "xx"
    once = tmp_path / "once"
    [refused] = runner.run(refuses, [("b", (str(once),))], seen.append)
    assert isinstance(refused.error, InputError) and "not a film" in str(refused.error)
    assert once.read_text() == "x"
    return {o.worker for o in outcomes}
