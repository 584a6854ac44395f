"""Timestamps an encoder and a muxer can take, from sources whose own are
wrong, missing or broken.

Archive files often carry bad times: AVI has no presentation times, so its
packed B-frames come out of the decoder with times that step backwards (1, 2,
3, 5, 4, 6 ...); a raw .h264 or .m2v stream has none at all; a broadcast TS
restarts its clock in mid-stream or has damage after which times repeat. An
encoder handed such times fails (x264's decode times step back and the muxer
refuses the packet), or, with none, the whole film collapses into one instant.

:class:`Retimer` repairs them the way FFmpeg's command line does, and keeps
every frame: it prefers the decoder's presentation time unless those have
gone wrong more often than the decode times (FFmpeg's "best effort" guess),
rebuilds missing times from the frame rate, continues one frame after the
last across a jump backwards (or a jump of more than ten seconds forwards in
formats whose clock may restart), and moves a frame that would share its
predecessor's time to just after it. What it changed is counted for the
report.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar

T = TypeVar("T")

# FFmpeg's -dts_delta_threshold: a forward jump longer than this, in a format
# whose clock may restart (MPEG-TS/PS), is a discontinuity, not a pause
JUMP_SECONDS = 10


@dataclass
class Retimer:
    """Strictly increasing times for one stream's frames, in its own time base (ticks).

    step: one frame's duration in ticks, >= 1: what a missing time or a jump is
    filled with. min_step: one tick of the output's clock, in ticks of this
    one (a Fraction where the clocks do not divide: 1/24 s in milliseconds is
    125/3), >= 1: two times that the muxer would round to one tick of its
    coarser clock (Matroska's milliseconds, AVI's frame ticks) collide. clock_restarts: whether big forward jumps are
    discontinuities (the format says its clock may restart). window: how many
    frames are held back so that times which arrive out of order (packed
    B-frames) can be handed out in order.

    Frames go in with :meth:`push` and come out, in the same order, with their
    times, from :meth:`push` and :meth:`flush`.
    """

    step: int
    min_step: int | Fraction = 1
    clock_restarts: bool = False
    window: int = 4
    jump_ticks: int = 0  # a forward jump longer than this is a discontinuity; 0: JUMP_SECONDS at 25 fps
    # FFmpeg's guess_correct_pts state
    faulty_pts: int = 0
    faulty_dts: int = 0
    last_pts: int | None = None
    last_dts: int | None = None
    # what came out
    last: int | None = None
    offset: int = 0
    missing: int = 0  # frames that had no time at all
    reordered: int = 0  # frames given another time than the decoder's presentation time (out of order)
    nudged: int = 0  # frames moved to just after a predecessor they would have collided with
    jumps: int = 0  # discontinuities bridged
    regular: int = 0  # steps between frames of one frame's duration (a steady frame rate)
    steps: int = 0  # steps between frames in all
    gaps: list = field(default_factory=list)  # (time, ticks) of steps of two frames' duration or more

    def __post_init__(self) -> None:
        if self.step < 1 or self.min_step < 1:
            raise ValueError(f"step ({self.step}) and min_step ({self.min_step}) must be at least 1 tick")
        if self.min_step >= self.step + 1:
            # an output clock coarser than a frame by more than rounding (a copied stream's
            # packets, step 1): check no collisions rather than push every packet on a tick
            self.min_step = self.step
        self.jump_ticks = self.jump_ticks or JUMP_SECONDS * 25 * self.step
        self._held: deque = deque()  # (item, the decoder's pts, best guess)
        self._pool: list[int] = []  # the held frames' best guesses, sorted

    def best_effort(self, pts: int | None, dts: int | None) -> int | None:
        """A decoded frame's time, FFmpeg's way (libavcodec's guess_correct_pts):
        the presentation time, unless those fail to increase more often than
        decode times do. Presentation times merely out of order within the
        window are not failures here: the window puts them back in order."""
        if dts is not None:
            self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        if pts is not None:
            self.faulty_pts += self.last_pts is not None and pts <= self.last_pts - self.window * self.step
            self.last_pts = pts if self.last_pts is None else max(pts, self.last_pts)
        if pts is not None and (self.faulty_pts <= self.faulty_dts or dts is None):
            return pts
        return dts

    def push(self, item: T, pts: int | None, dts: int | None = None) -> list[tuple[T, int]]:
        """Take a decoded frame (in display order) whose decoder said ``pts``, ``dts``
        (None: unknown); give back the frames now ready, with their times."""
        guess = self.best_effort(pts, dts)
        self._held.append((item, pts, guess))
        if guess is not None:
            bisect.insort(self._pool, guess)
        ready = []
        while len(self._held) > self.window:
            ready.append(self._release())
        return ready

    def flush(self) -> list[tuple[T, int]]:
        """The frames still held, with their times: call at the end of the stream."""
        return [self._release() for _ in range(len(self._held))]

    def _release(self) -> tuple:
        item, pts, guess = self._held.popleft()
        t = guess
        if guess is not None:
            # frames come out of the decoder in display order, so the earliest time
            # held belongs to this one, unless it lies beyond a jump of the clock
            t = self._pool[0] if abs(self._pool[0] - guess) <= self.window * self.step else guess
            self._pool.remove(t)
        out = self.place(t)
        self.reordered += t is not None and pts is not None and t != pts
        return item, out

    def place(self, t: int | None) -> int:
        """The time to give the next frame, whose best guess is ``t`` (None: unknown)."""
        if t is None:
            self.missing += 1
            out = 0 if self.last is None else self.last + self.step
        else:
            out = t + self.offset
            if self.last is not None:
                back = out <= self.last - self.step
                ahead = self.clock_restarts and out - self.last > self.jump_ticks
                if back or ahead:  # the clock jumped: go on one frame after the last
                    self.jumps += 1
                    self.offset += self.last + self.step - out
                    out = self.last + self.step
                elif self._on_output(out) <= self._on_output(self.last):
                    # the middle of the output's next tick: nudging by a whole (rounded-up)
                    # tick instead would add the rounding to every frame after
                    self.nudged += 1
                    out = max(out, math.ceil((self._on_output(self.last) + 1) * self.min_step))
        if self.last is not None:
            self.steps += 1
            delta = out - self.last
            self.regular += abs(delta - self.step) <= max(1, self.step // 50)  # rounding to the clock
            if delta * 2 >= self.step * 3:
                self.gaps.append((self.last, delta))
        self.last = out
        return out

    def _on_output(self, t: int) -> int:
        """``t`` on the output's clock, rounded as FFmpeg rescales (to nearest, halves away from zero)."""
        if self.min_step == 1:
            return t
        x = Fraction(t) / self.min_step
        return math.floor(x + Fraction(1, 2)) if x >= 0 else -math.floor(-x + Fraction(1, 2))  # halves away from 0

    def missing_frames(self) -> tuple[int, list[int]]:
        """(frames missing in gaps, the times where they are) for a steady film: in one
        whose steps are otherwise (nine in ten or more) one frame's duration, a step
        of several is frames lost to damage. A film of variable rate counts none."""
        if self.steps < 10 or self.regular < 0.9 * self.steps:
            return 0, []
        lost = [(t, round(delta / self.step) - 1) for t, delta in self.gaps]
        return sum(n for _, n in lost), [t for t, n in lost if n]

    @property
    def repaired(self) -> int:
        """How many frames got a time other than their own (or had none), and jumps bridged."""
        return self.missing + self.reordered + self.nudged + self.jumps

    def describe(self) -> str:
        """What was repaired, for a notice: '' when nothing was."""
        return "; ".join(f"{n} {what}" for n, what in (
            (self.missing, "had none (rebuilt from the frame rate)"),
            (self.reordered, "were out of order (put in display order, as FFmpeg does)"),
            (self.nudged, "repeated or too close (moved just after the one before)"),
            (self.jumps, "jumps of the clock (continued one frame on)"),
        ) if n)
