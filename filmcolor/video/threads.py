"""The runner that puts a film's stages on threads joined by bounded queues,
so memory stays flat however long the film and decoding, colouring and
encoding overlap (FFmpeg and ONNX Runtime release the GIL).

A stage is a generator: the first takes nothing, each next one the items of
the one before. :func:`threaded` runs all but the consumer each on its own
thread and hands the consumer (the calling thread) the last one's items.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator

_END = object()


class _Stop(Exception):
    """Another stage failed or the user interrupted: wind down quietly."""


class _Pipe:
    """A bounded queue whose put/get give up when the run is stopping."""

    def __init__(self, size: int, stop: threading.Event):
        self.q: queue.Queue = queue.Queue(maxsize=size)
        self.stop = stop

    def put(self, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self):
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                return self.q.get(timeout=0.1)
            except queue.Empty:
                continue

    def __iter__(self) -> Iterator:
        while (item := self.get()) is not _END:
            yield item


class Stages:
    """The running stages: iterate it for the last stage's items; ``errors`` holds
    what a stage raised (re-raised by :func:`threaded` once all have ended)."""

    def __init__(self, last: _Pipe):
        self.last = last
        self.errors: list[BaseException] = []

    def __iter__(self) -> Iterator:
        try:
            yield from self.last
        except _Stop:
            raise self.errors[0] from None  # a stage failed (the only thing that stops a run from inside)


@contextlib.contextmanager
def threaded(first: Callable[[], Iterable], *then: Callable[[Iterable], Iterable], size: int) -> Iterator[Stages]:
    """Run ``first()`` and each of ``then`` (fed the one before's items) on threads,
    ``size`` items queued between any two. A stage's error is raised in the
    consumer, from its next item; on leaving the block every thread has ended."""
    stop = threading.Event()
    pipes = [_Pipe(size, stop) for _ in range(1 + len(then))]
    stages = Stages(pipes[-1])

    def run(make: Callable[[], Iterable], out: _Pipe) -> None:
        try:
            for item in make():
                out.put(item)
            out.put(_END)
        except _Stop:
            pass
        except BaseException as e:  # handed to the calling thread, which reports it
            stages.errors.append(e)
            stop.set()

    makers = [first] + [lambda stage=stage, pipe=pipe: stage(pipe) for stage, pipe in zip(then, pipes, strict=False)]
    workers = [threading.Thread(target=run, args=(make, out), daemon=True, name=f"filmcolor-stage-{n}")
               for n, (make, out) in enumerate(zip(makers, pipes, strict=True))]
    try:  # started inside: an interrupt between two starts must still join the first
        for t in workers:
            t.start()
        yield stages
    finally:
        # a normal end: every stage has finished; otherwise this tells them to
        stop.set()
        _join_all(workers)


def _join_all(threads: list[threading.Thread]) -> None:
    """Wait for every thread to end, for real: the queues give up at once when
    stopping, and a stage still inside FFmpeg or a batch must not outlive the run
    (closing the files under it crashes the process; it would also reset the
    network's thread count in the middle of the next film). A Ctrl-C or SIGTERM that comes
    while waiting is raised once all have ended."""
    interrupted: KeyboardInterrupt | None = None
    for t in threads:
        while t.is_alive():
            try:
                t.join()
            except KeyboardInterrupt as e:
                interrupted = interrupted or e
    if interrupted is not None:
        raise interrupted
