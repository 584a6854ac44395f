"""Where independent tasks (a film's segments, photos, whole films) run: here,
one after another (:class:`Serial`), on a pool of processes on this machine
(:class:`Pool`), or as Ray tasks across machines (cluster.RayRunner). All have
one interface, so the work above them never asks which:

    for outcome in runner.run(fn, jobs, progress): ...

``fn(*args, progress=callable)`` is called for each ``(key, args)`` of
``jobs``; it may call ``progress(n)`` as it goes (the runner brings the counts
to the caller's ``progress``, from any process). Each task's
:class:`Outcome` comes back as it ends, in the order tasks end. A task that
raises an unexpected error is retried up to ``RETRIES`` times (a crash may be
the machine's, not the task's); a :class:`~filmcolor.errors.FilmcolorError`
is an answer about the input, the same on any try, and comes back at once.
An interruption stops every task at once: no task starts after it.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import FilmcolorError

RETRIES = 2

Progress = Callable[[int], None]


@dataclass
class Outcome:
    """How one task ended: its ``result``, or the ``error`` it ended with (after any
    retries); ``worker`` says where it ran (the process id; Ray adds its task id)."""

    key: Any
    result: Any = None
    error: BaseException | None = None
    worker: str = ""
    tries: int = 1


class Runner(Protocol):
    name: str

    def run(self, fn: Callable, jobs: Sequence[tuple[Any, tuple]], progress: Progress) -> Iterator[Outcome]: ...

    def where(self, workers: set[str]) -> str:
        """For a summary line: where tasks that ran on ``workers`` (Outcome.worker) ran."""
        ...


def call(fn: Callable, args: tuple, progress: Progress) -> tuple[Any, FilmcolorError | None, int]:
    """Run one task where it is: (result, the FilmcolorError it answered with, pid).
    Other errors propagate, for the runner to retry."""
    try:
        return fn(*args, progress=progress), None, os.getpid()
    except FilmcolorError as e:
        return None, e, os.getpid()


class Serial:
    """Each task in this process, one after another."""

    name = "here"

    def where(self, workers: set[str]) -> str:
        return ""

    def run(self, fn: Callable, jobs: Sequence[tuple[Any, tuple]], progress: Progress) -> Iterator[Outcome]:
        for key, args in jobs:
            for attempt in range(1, RETRIES + 2):
                try:
                    result, refused, pid = call(fn, args, progress)
                except Exception as e:
                    if attempt <= RETRIES:
                        continue
                    yield Outcome(key, error=e, worker=f"pid {os.getpid()}", tries=attempt)
                    break
                yield Outcome(key, result, refused, f"pid {pid}", attempt)
                break


_counts = None  # in a pool's worker: the queue its progress goes to


def _start_worker(counts) -> None:
    global _counts
    _counts = counts
    # the parent alone answers Ctrl-C (a terminal sends it to every process): it ends the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_call(fn: Callable, args: tuple):
    return call(fn, args, _counts.put)


class Pool:
    """Tasks on ``workers`` processes of this machine, each a fresh interpreter
    (spawned: no forked ONNX Runtime or FFmpeg threads)."""

    name = "processes"

    def __init__(self, workers: int):
        self.workers = workers

    def where(self, workers: set[str]) -> str:
        return f" by {len(workers)} processes" if workers else ""

    def run(self, fn: Callable, jobs: Sequence[tuple[Any, tuple]], progress: Progress) -> Iterator[Outcome]:
        ctx = multiprocessing.get_context("spawn")
        # a SimpleQueue's put is in the pipe when it returns (a Queue's is still in a feeder thread):
        # a task's last counts are there before its result, so the final drain sees them all
        counts = ctx.SimpleQueue()
        pool = concurrent.futures.ProcessPoolExecutor(min(self.workers, max(1, len(jobs))), mp_context=ctx,
                                                      initializer=_start_worker, initargs=(counts,))
        pending = {}
        try:
            for key, args in jobs:
                pending[pool.submit(_pool_call, fn, args)] = (key, args, 1)
            while pending:
                finished, _ = concurrent.futures.wait(pending, timeout=0.2,
                                                      return_when=concurrent.futures.FIRST_COMPLETED)
                drain(counts, progress)
                for job in finished:
                    key, args, attempt = pending.pop(job)
                    try:
                        result, refused, pid = job.result()
                    except BrokenProcessPool:  # a worker was killed: the pool cannot go on
                        yield Outcome(key, error=RuntimeError("a worker process died (killed, or out of memory?)"),
                                      tries=attempt)
                        continue
                    except Exception as e:
                        if attempt <= RETRIES:
                            pending[pool.submit(_pool_call, fn, args)] = (key, args, attempt + 1)
                        else:
                            yield Outcome(key, error=e, tries=attempt)
                        continue
                    yield Outcome(key, result, refused, f"pid {pid}", attempt)
            drain(counts, progress)
        except BaseException:
            _stop_now(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            counts.close()


def _stop_now(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """End the pool's workers at once, mid-task: what they have finished is on disk;
    what they were writing is a temporary file (the work above them clears those).
    (Python 3.14 has pool.terminate_workers(); before it the processes are only in
    the private ``_processes``, which shutdown() forgets: taken first.)"""
    stop = getattr(pool, "terminate_workers", None)
    if stop is not None:
        stop()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def drain(counts, progress: Progress) -> None:
    """Hand the frame counts workers put on ``counts`` (a multiprocessing SimpleQueue)
    to ``progress``, at once."""
    n = 0
    try:
        while not counts.empty():
            n += counts.get()
    except (EOFError, OSError):
        pass
    if n:
        progress(n)
