"""The runners (filmcolor/runners.py) keep one contract (runner_contract.py; Ray's
in test_cluster.py), and a pool stops at once when interrupted."""

from __future__ import annotations

import importlib.util
import os
import signal
import time

import pytest
from runner_contract import check_runner

from filmcolor import runners


def test_the_serial_runner_runs_each_task_here_and_retries_a_crash(tmp_path):
    check_runner(runners.Serial(), tmp_path, here_is_the_worker=True)


def test_the_pool_runs_tasks_in_other_processes_and_retries_a_crash(tmp_path):
    workers = check_runner(runners.Pool(2), tmp_path, here_is_the_worker=False)
    assert 1 <= len(workers) <= 2


def dies(n: int, go: str, progress=None) -> int:
    """Task 2 is killed (the kernel's out-of-memory killer, a user's kill -9) once the parent has the first
    two's results (it says so with the file ``go``: a fixed wait could end before a slow worker's task 1)."""
    if n == 2:
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    return n


def test_a_killed_worker_fails_what_it_and_the_queue_held_and_keeps_what_finished(tmp_path):
    go = tmp_path / "go"
    outcomes = {}
    for o in runners.Pool(2).run(dies, [(n, (n, str(go))) for n in range(5)], lambda n: None):
        outcomes[o.key] = o
        if {0, 1} <= set(outcomes):
            go.touch()
    assert sorted(outcomes) == [0, 1, 2, 3, 4]
    assert outcomes[0].result == 0 and outcomes[1].result == 1
    assert outcomes[2].error is not None and "worker process died" in str(outcomes[2].error)


def test_the_command_line_picks_the_runner_its_options_name():
    from filmcolor.cli.common import pick_runner

    assert isinstance(pick_runner(1), runners.Serial)
    pool = pick_runner(3)
    assert isinstance(pool, runners.Pool) and pool.workers == 3


def sleeps(pidfile: str, progress=None) -> None:
    """Says its pid, counts one frame, then works for long."""
    with open(pidfile, "a") as f:
        f.write(f"{os.getpid()}\n")
    progress(1)
    time.sleep(60)


def test_an_interrupted_pool_ends_its_workers_at_once(tmp_path):
    pids = tmp_path / "pids"

    def interrupted(n: int) -> None:  # Ctrl-C in the parent while the tasks work
        raise KeyboardInterrupt

    t = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        list(runners.Pool(2).run(sleeps, [(n, (str(pids),)) for n in range(4)], interrupted))
    assert time.perf_counter() - t < 20  # not the 60 s the tasks would take, nor the queued two after them
    started = [int(p) for p in pids.read_text().split()]
    assert 1 <= len(started) <= 2  # the queued tasks never started
    for pid in started:  # gone, or at least dead (a zombie not yet reaped by the pool's thread)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _one_line_error(args: list[str]) -> tuple[list[str], float]:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "filmcolor", *args], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 1
    return r.stderr.strip().splitlines(), time.perf_counter() - t


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs Ray")
@pytest.mark.parametrize("address", ["auto", "127.0.0.1:{port}"])
def test_ray_errors_are_one_line_and_quick(tiny_model, tmp_path, address):
    import socket

    from media import make_clip

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = address.format(port=port)
    src = make_clip(tmp_path / "in.mp4", frames=4)
    lines, seconds = _one_line_error(["video", str(src), str(tmp_path / "o.mp4"), "--model", str(tiny_model),
                                      "--ray", address])
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: --ray {address}: no Ray cluster")
    # quick: not Ray's own minute of retries (the child's start and `import ray` take seconds on 2 cores)
    assert ("ray start --head" in lines[0]) and seconds < 30
    assert not (tmp_path / "o.mp4").exists()
