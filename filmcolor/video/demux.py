"""The first stage: demux, retime and decode (and deinterlace) the source.

``decode`` yields the film's frames, each with its repaired timestamp, and
the packets of the streams that are copied or re-encoded, in file order;
``pass_packets`` yields only those packets (a join, whose video comes
finished). Each is a plain generator: the runner (threads.py) runs it on a
thread of its own, a test can iterate it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av

from ..timestamps import Retimer
from .layout import FIELD_NAMES, OutputPlan
from .options import VideoOptions, VideoReport, Window
from .source import Source

Item = tuple  # ("frame", av.VideoFrame) or ("packet", av.Packet)


class _Reach:
    """Where the streams demuxed so far reach, in seconds."""

    def __init__(self) -> None:
        self.end = Fraction(0)

    def see(self, packet: av.Packet) -> None:
        if packet.pts is not None and packet.time_base:
            self.end = max(self.end, (packet.pts + (packet.duration or 0)) * packet.time_base)


def decode(source: Source, plan: OutputPlan, opts: VideoOptions, retimer: Retimer, report: VideoReport,
           window: Window | None = None) -> Iterator[Item]:
    """The frames of ``source`` (within ``window``: a segment's, video only) and
    the other streams' packets, in order. Damage, repairs and what is missing
    are counted and said in ``report`` once the film is read."""
    frames = _Frames(source, report, window, retimer, opts.deinterlace)
    wanted = {s.index for s in plan.copy} | set(plan.reencode)
    reach = _Reach()
    video_packets = decoded = 0
    if window is not None and window.seek is not None:
        source.container.seek(window.seek, stream=source.vin, backward=True)
    for packet in source.container.demux(source.vin) if window else source.container.demux():
        if frames.past_end:
            break
        reach.see(packet)
        if packet.stream.index != source.vin.index:
            if packet.stream.index in wanted and packet.size:  # size 0: demuxer flush
                yield ("packet", packet)
            continue
        if packet.size and not packet.is_discard:  # discarded: before an edit list's start
            video_packets += 1
            if window is not None and packet.pts is not None and window.writes(packet.pts):
                report.window_packets += 1
        try:
            got = source.decode(packet)
        except av.FFmpegError:
            # a segment counts only the damage in what it writes: segments overlap
            report.damaged_packets += window is None or (packet.pts is not None and window.writes(packet.pts))
            continue
        decoded += len(got)
        for frame in got:
            yield from frames.push(frame)
    # demux() ends with an empty packet per stream, whose decode() flushed the decoder
    yield from frames.flush()
    if window is None:
        say_what_is_missing(source, retimer, reach.end, report)
        # a decoder that conceals damage may still swallow frames: count them
        report.lost_frames = max(0, video_packets - decoded - report.damaged_packets)
    if retimer.repaired:
        report.retimed = retimer.repaired
        report.notices.append(f"timestamps repaired: {retimer.describe()}")
    for seen, n in report.resized_frames.items():
        report.warnings.append(f"{n} frames changed to {seen} in mid-stream; scaled back to the "
                               f"film's {source.width}x{source.height} {source.in_format}{_distortion(seen, source)}")
    if frames.interlaced_seen and not opts.deinterlace:
        kept = f"kept {FIELD_NAMES[plan.fields]}" if plan.fields else "its field order unknown, written as progressive"
        report.notices.append(f"source is interlaced ({kept}); --deinterlace would remove combing")


def pass_packets(source: Source, plan: OutputPlan, retimer: Retimer, report: VideoReport) -> Iterator[Item]:
    """A join's first stage: the packets of the streams other than the video. The
    video's packets are only timed (not decoded), so that frames the demuxer
    skips are said as in one piece."""
    wanted = {s.index for s in plan.copy} | set(plan.reencode)
    reach = _Reach()
    for packet in source.container.demux():
        reach.see(packet)
        if packet.stream.index == source.vin.index:
            if packet.size and not packet.is_discard:
                retimer.push(None, packet.pts, packet.dts)
        elif packet.stream.index in wanted and packet.size:
            yield ("packet", packet)
    retimer.flush()
    say_what_is_missing(source, retimer, reach.end, report)


def say_what_is_missing(source: Source, retimer: Retimer, end: Fraction, report: VideoReport) -> None:
    """Warn about frames the demuxer skipped without a word: gaps in a steady
    film (a damaged cluster), and a file that ends before its header says."""
    lost, where = retimer.missing_frames()
    if lost:
        at = ", ".join(f"{float(t * source.vin.time_base):.2f} s" for t in where[:5])
        report.warnings.append(f"about {lost} frames missing in the source (damaged at {at}"
                               f"{' ...' if len(where) > 5 else ''}); the film jumps there")
    declared_end = source.declared_end
    if declared_end is None:
        return
    short = declared_end - end
    rate = source.rate
    if short > max(Fraction(1, 2), 2 / rate):
        report.warnings.append(
            f"the source says it lasts {float(declared_end):.2f} s but ends at {float(end):.2f} s: "
            f"the last {float(short):.2f} s (about {round(short * rate)} frames) are missing "
            "(the file is cut short or damaged)")


def _distortion(seen: str, source: Source) -> str:
    """Where frames of another shape were scaled to the film's, what that did to them."""
    w, h = (int(v) for v in seen.split()[0].split("x"))
    theirs, ours = Fraction(w, h), Fraction(source.width, source.height)
    if abs(theirs / ours - 1) < Fraction(1, 100):
        return ""

    def ratio(r: Fraction) -> str:
        r = r.limit_denominator(20)
        return f"{r.numerator}:{r.denominator}"

    return (f": their {ratio(theirs)} picture fills the film's {ratio(ours)}, so things in them look "
            f"{'narrower' if theirs > ours else 'wider'} than they are (pad or crop those frames first)")


class _Frames:
    """Decoded frames -> retimed, conformed (and deinterlaced) frames of the window."""

    def __init__(self, source: Source, report: VideoReport, window: Window | None, retimer: Retimer,
                 deinterlace: bool):
        self.source, self.report, self.window, self.retimer = source, report, window, retimer
        self.graph = _deinterlacer(source) if deinterlace else None
        self.interlaced_seen = False
        self.past_end = False

    def push(self, frame: av.VideoFrame) -> Iterator[Item]:
        window = self.window
        self.report.concealed_frames += frame.is_corrupt and (
            window is None or (frame.pts is not None and window.writes(frame.pts)))
        self.interlaced_seen |= frame.interlaced_frame
        for ready, t in self.retimer.push(frame, frame.pts, frame.dts):
            if window is None or window.colours(t):
                yield from self._emit(self._conform(ready), t)
            self.past_end |= window is not None and window.done(t)

    def flush(self) -> Iterator[Item]:
        for ready, t in self.retimer.flush():
            if self.window is None or self.window.colours(t):
                yield from self._emit(self._conform(ready), t)
        if self.graph is not None:
            self.graph.push(None)
            yield from self._drain()

    def _conform(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A frame whose size or pixel format changed in mid-stream (a spliced
        broadcast, a concatenated archive) scaled back to the film's first one,
        as ffmpeg does: one film has one size, and every frame is kept."""
        s = self.source
        if (frame.width, frame.height) == (s.width, s.height) and frame.format.name == s.in_format:
            return frame
        seen = f"{frame.width}x{frame.height} {frame.format.name}"
        self.report.resized_frames[seen] = self.report.resized_frames.get(seen, 0) + 1
        scaled = frame.reformat(width=s.width, height=s.height, format=s.in_format,
                                interpolation="AREA" if frame.width > s.width else "BICUBIC")
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled

    def _emit(self, frame: av.VideoFrame, t: int) -> Iterator[Item]:
        frame.pts, frame.time_base = t, self.source.vin.time_base
        if self.graph is None:
            yield ("frame", frame)
            return
        self.graph.push(frame)
        yield from self._drain()

    def _drain(self) -> Iterator[Item]:
        while True:
            try:
                yield ("frame", self.graph.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return


def _deinterlacer(source: Source) -> av.filter.Graph:
    graph = av.filter.Graph()
    src = graph.add_buffer(template=source.vin)
    bwdif = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")  # one frame out per frame in
    sink = graph.add("buffersink")
    src.link_to(bwdif)
    bwdif.link_to(sink)
    graph.configure()
    return graph
