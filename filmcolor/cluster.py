"""The thin layer that runs filmcolor's work as Ray tasks (``--ray``), for a
cluster of machines or all of one machine's GPUs. Optional: ``pip install
"filmcolor[ray]"``.

Ray schedules, retries and moves results; filmcolor only says what a task is:
one segment of a film (segments.py) or one photo. Inputs and outputs must be
on a path every node sees. A task that fails is retried (``RETRIES``), then
reported by name; the other tasks finish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

RETRIES = 2


def _ray():
    try:
        import ray
    except ImportError:
        from .errors import FilmcolorError

        raise FilmcolorError('--ray needs Ray: pip install "filmcolor[ray]"') from None
    return ray


def connect(address: str) -> None:
    """Join the cluster at ``address`` ('auto': the one this machine belongs to), or
    start a local one for this run ('local')."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, log_to_driver=False,
                 include_dashboard=False, configure_logging=False)


def gpus_for(device: str) -> float:
    """GPUs a task asks for: one where the model runs on CUDA and the cluster has any."""
    if device.partition(":")[0] in ("cpu", "mps", "coreml", "dml"):
        return 0.0
    return 1.0 if _ray().cluster_resources().get("GPU", 0) > 0 else 0.0


def run_tasks(fn: Callable, calls: Iterable[tuple], gpus: float, progress: Callable[[int], None],
              on_done: Callable[[Any, Any], None], on_failed: Callable[[Any, BaseException], None]) -> None:
    """Run ``fn(*args, counts)`` as Ray tasks, one per ``(key, args)`` of ``calls``.

    ``counts`` is a Ray queue the task may put frame counts on (shown through
    ``progress`` as they come); ``on_done(key, result)`` or ``on_failed(key,
    error)`` is called for each task as it ends.
    """
    ray = _ray()
    from ray.util.queue import Queue

    from .segments import drain

    counts = Queue()
    remote = ray.remote(num_gpus=gpus, max_retries=RETRIES, retry_exceptions=True)(fn)
    pending = {remote.remote(*args, counts): key for key, args in calls}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
            drain(counts, progress)
            for ref in ready:
                key = pending.pop(ref)
                try:
                    on_done(key, ray.get(ref))
                except Exception as e:  # the task's own error, after its retries
                    on_failed(key, getattr(e, "cause", None) or e)
        drain(counts, progress)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
