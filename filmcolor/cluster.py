"""The runner that sends tasks to Ray (``--ray``), for a cluster of machines or
all of one machine's GPUs. Optional: ``pip install "filmcolor[ray]"``; the only
module that imports Ray.

Ray schedules, retries and moves results; filmcolor only says what a task is
(runners.py: one segment of a film, one film, one photo). Inputs and outputs
must be on a path every node sees. A task that crashes is retried by Ray
(``runners.RETRIES``); a task that answers with a FilmcolorError is not.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import FilmcolorError
from .runners import RETRIES, Outcome, Progress, call

CONNECT_SECONDS = 5.0  # an address that does not answer by then is said to be unreachable


def _ray():
    try:
        import ray
    except ImportError:
        raise FilmcolorError('--ray needs Ray: pip install "filmcolor[ray]"') from None
    return ray


def connect(address: str) -> None:
    """Join the cluster at ``address`` ('auto': the one this machine belongs to), or
    start a local one for this run ('local'). FilmcolorError in one line when
    there is none to join."""
    ray = _ray()
    if ray.is_initialized():
        return
    if address not in ("auto", "local"):
        _check_reachable(address)
    try:
        ray.init(address=None if address == "local" else address, log_to_driver=False,
                 include_dashboard=False, configure_logging=False)
    except ConnectionError:
        if address == "auto":
            raise FilmcolorError("--ray auto: no Ray cluster is running on this machine; start one with "
                                 "`ray start --head`, or give --ray alone for a local one for this run") from None
        raise FilmcolorError(f"--ray {address}: no Ray cluster answers there "
                             "(is `ray start --head` running on that machine?)") from None
    except Exception as e:  # Ray's own errors are long; one line of it is enough here
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise FilmcolorError(f"--ray {address}: cannot join the Ray cluster ({first})") from None


def _check_reachable(address: str) -> None:
    """A quick look whether anything listens at ``host:port``: Ray itself would
    retry for a long while, printing warnings, before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise FilmcolorError(f"--ray {address}: give auto, HOST:PORT (e.g. 10.0.0.5:6379), or --ray alone "
                             "for a local cluster")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise FilmcolorError(f"--ray {address}: no Ray cluster answers there ({why}); start one with "
                             "`ray start --head` on that machine, or give --ray alone for a local one") from None


def gpus_for(device: str) -> float:
    """GPUs a task asks for: one where the model runs on CUDA and the cluster has any."""
    if device.partition(":")[0] in ("cpu", "mps", "coreml", "dml"):
        return 0.0
    return 1.0 if _ray().cluster_resources().get("GPU", 0) > 0 else 0.0


def _on_ray(fn: Callable, args: tuple, counts) -> tuple[Any, FilmcolorError | None, str]:
    """One task on a Ray worker: progress goes to the driver through ``counts``."""
    import ray

    result, refused, pid = call(fn, args, counts.put)
    return result, refused, f"pid {pid}, Ray task {ray.get_runtime_context().get_task_id()}"


class RayRunner:
    """Tasks as Ray tasks on the cluster at ``address`` (see :func:`connect`)."""

    name = "Ray"

    def __init__(self, address: str, device: str = "auto"):
        connect(address)
        self.gpus = gpus_for(device)

    def where(self, workers: set[str]) -> str:
        return f" on Ray ({len(workers)} workers)" if workers else ""

    def run(self, fn: Callable, jobs: Sequence[tuple[Any, tuple]], progress: Progress) -> Iterator[Outcome]:
        ray = _ray()
        from ray.util.queue import Queue

        counts = Queue()
        remote = ray.remote(num_gpus=self.gpus, max_retries=RETRIES, retry_exceptions=True)(_on_ray)
        pending = {remote.remote(fn, args, counts): key for key, args in jobs}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
                _drain(counts, progress)
                for ref in ready:
                    key = pending.pop(ref)
                    try:
                        result, refused, where = ray.get(ref)
                    except Exception as e:  # the task's own error, after its retries
                        yield Outcome(key, error=getattr(e, "cause", None) or e, tries=RETRIES + 1)
                        continue
                    yield Outcome(key, result, refused, where)
            _drain(counts, progress)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def _drain(counts, progress: Progress) -> None:
    n = counts.qsize()
    if n:
        progress(sum(counts.get_nowait_batch(n)))
