"""Films: a streaming decode -> colorize -> encode pipeline on PyAV.

Three stages joined by bounded queues, so memory stays flat however long the
film:

1. a thread demuxes and decodes (FFmpeg's own threads inside), passing
   frames on and the packets of every other stream untouched;
2. a thread shrinks each frame's luma plane to the network's size, colorizes
   the key frames of each batch (see frames.FrameColorizer), smooths a/b over
   time, carrying colour along the motion to the frames between, and builds
   output frames from the SOURCE luma plane plus new chroma planes (only
   chroma is upsampled);
3. the calling thread encodes and muxes, copying audio, subtitle and data
   packets as they come.

Every frame keeps its own timestamp in the input's time base (variable frame
rate survives; broken ones are repaired, see timestamps.py). The output is
written to a temporary file beside OUT and renamed at the end, so a crash or
Ctrl-C leaves nothing at OUT.

Two more modes serve films cut into segments (segments.py): a ``Window``
renders one segment's frames, video only; ``joined`` skips colorizing and
takes the video packets from the finished segments, while everything else
comes from the source as in one piece.
"""

from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from .encoding import (
    AUDIO_FALLBACKS,
    CODECS,
    PLANAR,
    RANGE_JPEG,
    RANGE_MPEG,
    X264_PRESETS,
    choose_pixel_format,
    color_matrix,
    container_takes,
    describe,
    ffmpeg_writes,
    format_for,
    planar_equivalent,
    source_bits,
)
from .errors import InputError, OutputError
from .files import publish
from .timestamps import JUMP_SECONDS, Retimer

if TYPE_CHECKING:
    from .colorizer import Colorizer
    from .temporal import Smoother

__all__ = ["CODECS", "X264_PRESETS", "Pipeline", "VideoOptions", "VideoReport", "colorize_video"]

@dataclass
class VideoOptions:
    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    batch_size: int = 8
    smooth: bool = True
    # with smoothing, the network sees at most every key_interval-th frame of a
    # steady shot; the others get colour carried along the optical flow
    key_interval: int = 4
    # CPU threads of the network; None: a quarter of the cores (at least 1), since
    # the encoder wants the rest: on 2 cores, 2 network threads beside x264 made
    # the whole film slower than 1 (measured with torch, again with ONNX Runtime)
    cpu_threads: int | None = None
    deinterlace: bool = False
    queue_batches: int = 2  # batches buffered between stages
    # (from second, Reference): each reference photo steers the colour from its time to the next one's
    references: tuple = ()


@dataclass
class Window:
    """Which frames of the film one run renders, for films cut into segments
    (segments.py). Times are source timestamps (the video's time base).

    The run seeks to ``seek`` (a key frame at or before ``warm``), colorizes
    the frames from ``warm`` on so that the smoothing and the colour carried
    between key frames are warm, writes those from ``start`` on, and writes
    none from ``end`` on (None: the end of the film), though it colours on
    until ``cool`` so that the last frames it writes have a key frame after
    them, as they would in one piece. Only the video is written.
    """

    seek: int | None
    warm: int
    start: int
    end: int | None
    cool: int | None = None
    first_index: int = 0  # the frame number (from the film's start) of the frame at ``warm``

    def colours(self, t: int) -> bool:
        """Whether the frame at ``t`` goes through the colour stage."""
        stop = self.cool if self.cool is not None else self.end
        return self.warm <= t and (stop is None or t < stop)

    def writes(self, t: int) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def done(self, t: int) -> bool:
        """Whether the frame at ``t`` is past everything this run needs."""
        stop = self.cool if self.cool is not None else self.end
        return stop is not None and t >= stop


@dataclass
class VideoReport:
    """What happened, for the summary line."""

    frames: int = 0
    damaged_packets: int = 0  # the decoder refused them
    lost_frames: int = 0  # packets that gave no frame although the decoder took them
    concealed_frames: int = 0  # decoded with damage patched over (kept in the output)
    retimed: int = 0  # frames whose timestamp was missing or wrong and was rebuilt (timestamps.Retimer)
    resized_frames: dict[str, int] = field(default_factory=dict)  # size/format seen mid-stream -> frames
    cuts: int = 0
    carried: int = 0  # frames coloured by carrying colour along the flow, not by the network
    copied: list[str] = field(default_factory=list)
    reencoded: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # said even with -q: the output may be wrong
    batch_size: int = 0
    first_pts: int | None = None  # the first written frame's time (a segment's check of its seek)


# AVColorTransferCharacteristic and AVColorSpace numbers (libavutil/pixfmt.h)
HDR_TRANSFERS = {16: "PQ, SMPTE 2084", 18: "HLG, ARIB STD-B67"}
SPACE_BT2020_CL = 10
AVFMT_TS_DISCONT = 0x0200  # libavformat: the format's timestamps may jump (MPEG-TS, MPEG-PS)
# AVFieldOrder (libavcodec/defs.h); "tb"/"bt" (4, 5) are coded one way and shown the other: shown order kept
FIELD_UNKNOWN, FIELD_PROGRESSIVE = 0, 1
FIELD_CODES = {"tff": 2, "bff": 3}
FIELD_ORDERS = {2: "tff", 3: "bff", 4: "tff", 5: "bff"}
FIELD_NAMES = {"tff": "top field first", "bff": "bottom field first"}
AVFMT_NOTIMESTAMPS = 0x0080  # libavformat: raw streams, whose times are made up


def _ticks(duration: Fraction, time_base: Fraction) -> int:
    """``duration`` (seconds, or one tick of another clock) in whole ticks of ``time_base``, rounded up, >= 1."""
    return max(1, math.ceil(duration / time_base))


class _Stop(Exception):
    """Another stage failed or the user interrupted: wind down quietly."""


class _Pipe:
    """A bounded queue whose put/get give up when the pipeline is stopping."""

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


_END = object()


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


class _SegmentPackets:
    """The video packets of finished segments, in order, for the join: each is
    muxed when the other streams have reached its time. Where one segment's
    encoder delayed its first decode times into the one before's (B-frames),
    decode times are moved just after the last, never past their own
    presentation time."""

    def __init__(self, segments: list, vout, report: VideoReport, progress: Callable[[int], None]):
        self.packets = (p for c in segments for p in c.demux(c.streams.video[0]) if p.size)
        self.vout, self.report, self.progress = vout, report, progress
        self.next = next(self.packets, None)
        self.last_dts: int | None = None

    def mux_until(self, output, seconds: Fraction | None) -> None:
        while self.next is not None and (seconds is None or self._time(self.next) <= seconds):
            p = self.next
            if p.dts is not None and self.last_dts is not None and p.dts <= self.last_dts:
                p.dts = min(self.last_dts + 1, p.pts) if p.pts is not None else self.last_dts + 1
            self.last_dts = p.dts if p.dts is not None else self.last_dts
            p.stream = self.vout
            output.mux(p)
            self.report.frames += 1  # one packet, one frame: what the segments' encoders wrote
            self.progress(1)
            self.next = next(self.packets, None)

    @staticmethod
    def _time(p) -> Fraction:
        t = p.dts if p.dts is not None else p.pts
        return t * p.time_base if t is not None else Fraction(0)


class Pipeline:
    """One film through the colorizer. Use :func:`colorize_video`."""

    def __init__(self, colorizer: Colorizer | None, src: Path, dst: Path, opts: VideoOptions,
                 progress: Callable[[int], None] | None = None, window: Window | None = None,
                 joined: list[Path] | None = None):
        """``window``: render only those frames, video only (a segment). ``joined``:
        no colorizing: the video comes from these finished segments, in order, and
        everything else from the source (``colorizer`` may then be None)."""
        self.colorizer = colorizer
        self.src, self.dst, self.opts = src, dst, opts
        self.window, self.joined = window, joined
        self.progress = progress or (lambda n: None)
        self.report = VideoReport(batch_size=opts.batch_size)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.fields: str | None = None  # the source's field order (tff, bff), kept in the output; None: progressive
        self._fields_graph = None
        self.timecode: str | None = None  # the source's starting timecode (HH:MM:SS:FF), carried to the output

    # ------------------------------------------------------------ set-up

    def open_input(self) -> None:
        try:
            self.input = av.open(str(self.src), "r")
        except av.FFmpegError as e:
            raise InputError(f"not a video PyAV can read ({e.strerror or e})") from None
        if not self.input.streams.video:
            self.input.close()
            raise InputError("no video stream")
        # the film, not its cover art (an attached picture is a one-frame "video" stream)
        films = [v for v in self.input.streams.video if not v.disposition & av.stream.Disposition.attached_pic]
        if not films:
            self.input.close()
            raise InputError("no video stream (only a cover picture)")
        self.vin = films[0]
        self.vin.thread_type = "AUTO"
        cc = self.vin.codec_context
        self.width, self.height = cc.width, cc.height
        if not self.width or not self.height:
            self.input.close()
            raise InputError("video stream without a frame size")
        self.in_format = cc.format.name if cc.format else "yuv420p"
        # the nominal frame rate: what the encoder is told, and one frame's duration for repairs
        self.rate = self.vin.average_rate or self.vin.guessed_rate or Fraction(25)
        self.total = self.vin.frames or (
            int(self.vin.duration * self.vin.time_base * (self.vin.average_rate or 25))
            if self.vin.duration else 0
        )

    def plan_output(self, fmt_name: str) -> None:
        """Pick pixel format, colour matrix and what happens to each other stream."""
        src_bits, sx, sy, full = PLANAR[planar_equivalent(self.in_format)]
        in_bits = source_bits(self.in_format)
        if in_bits > src_bits:
            self.report.notices.append(f"source is {in_bits}-bit ({self.in_format}): "
                                       f"kept at {src_bits} bits, the most filmcolor writes")
        self.in_full_range = full or self.vin.codec_context.color_range == RANGE_JPEG
        self.out_format = choose_pixel_format(self.opts.codec, self.in_format, self.width, self.height)
        if PLANAR[self.out_format][:3] != (src_bits, sx, sy):
            self.report.notices.append(f"{self.opts.codec}: written as {self.out_format} (source {self.in_format})")
        self.matrix, self.out_space = color_matrix(self.vin.codec_context.colorspace, self.height)
        hdr = HDR_TRANSFERS.get(self.vin.codec_context.color_trc)
        if hdr:
            self.report.warnings.append(
                f"source is HDR ({hdr}): filmcolor reads its brightness as SDR, so the colour will be off; "
                "tone-map it to SDR first")
        if self.vin.codec_context.colorspace == SPACE_BT2020_CL:
            self.report.warnings.append(
                "source uses BT.2020 constant luminance, which filmcolor writes as non-constant: colour will be off")
        # ONNX Runtime comes with these: imported when a film is run, not for --help
        from .frames import FrameColorizer, FrameLayout

        if self.joined is None:
            layout = FrameLayout(self.width, self.height, self.out_format, self.matrix, self.out_space,
                                 self.in_full_range)
            self.frame_colorizer = FrameColorizer(self.colorizer, layout, self.opts.batch_size, self.report.notices,
                                                  key_interval=self.opts.key_interval,
                                                  references=self.opts.references,
                                                  first_frame=self.window.first_index if self.window else 0)
        if fmt_name == "avi":
            self._check_steady_rate()
        self.fields = None if self.opts.deinterlace else FIELD_ORDERS.get(self._field_order())
        if self.fields and not CODECS[self.opts.codec].interlaced:
            self.report.notices.append(f"{self.opts.codec} has no interlaced coding: the fields are kept, "
                                       f"woven in each frame, and marked {FIELD_NAMES[self.fields]}")
        if not container_takes(fmt_name, lambda c: self._add_video(c)):
            raise OutputError(
                f"{self.opts.codec} video cannot go into .{self.dst.suffix.lstrip('.')} "
                "(try .mkv, which holds every codec filmcolor writes)"
            )
        self.copy_streams, self.reencode_streams = [], {}
        self.timecode = self.vin.metadata.get("timecode")
        others = [] if self.window else self.input.streams  # a segment holds its video only
        for s in others:
            if s is self.vin:
                continue
            if s.type == "data" and s.metadata.get("timecode"):
                # a QuickTime timecode (tmcd) track: its one packet cannot be copied into another film;
                # given to the video as "timecode", the muxer writes it as each container can
                self.timecode = self.timecode or s.metadata["timecode"]
                continue
            if s.type == "video" and s.disposition & av.stream.Disposition.attached_pic:
                self.report.notices.append(f"{describe(s)} is cover art: copied as it is")
            elif s.type == "video":
                self.report.notices.append(f"{describe(s)} copied untouched (only the first video stream is colorized)")
            if container_takes(fmt_name, lambda c, s=s: c.add_stream_from_template(s)):
                self.copy_streams.append(s)
                if fmt_name == "mp4" and s.type == "audio" and s.codec_context.name.startswith("pcm_"):
                    self.report.warnings.append(
                        f"{describe(s)} goes into .mp4 as an ISO 'ipcm' track, which older players cannot "
                        "play or read as 16-bit; .mov or .mkv hold PCM everywhere")
                continue
            if s.type == "audio":
                for enc in AUDIO_FALLBACKS:
                    if container_takes(fmt_name, lambda c, s=s, enc=enc: self._add_audio(c, s, enc)):
                        self.reencode_streams[s.index] = enc
                        break
            if s.index not in self.reencode_streams:
                raise OutputError(
                    f"stream {describe(s)} cannot go into .{self.dst.suffix.lstrip('.')}; "
                    "refusing to drop it (try .mkv, which holds almost any stream)"
                )

    def _add_video(self, out: av.container.OutputContainer) -> av.stream.Stream:
        preset = CODECS[self.opts.codec]
        options = preset.options(self.opts.crf, self.opts.preset)
        if self.fields:
            options.update((name, value.format(order=self.fields)) for name, value in preset.interlaced)
        if out.format.name == "avi":
            options["bf"] = "0"  # AVI keeps no presentation times: reordered frames would read back shifted
        for name, value in preset.environ:
            os.environ.setdefault(name, value)  # a user's own setting wins
        rate = self.rate
        stream = out.add_stream(preset.encoder, rate=rate, options=options)
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = self.out_format
        stream.time_base = 1 / rate if out.format.name == "avi" else self.vin.time_base  # AVI: one tick a frame
        cc = stream.codec_context
        cc.time_base = self.vin.time_base
        cc.framerate = rate
        cc.colorspace = self.out_space
        cc.color_range = RANGE_JPEG if self.in_full_range else RANGE_MPEG
        cc.color_primaries = self.vin.codec_context.color_primaries
        cc.color_trc = self.vin.codec_context.color_trc
        sar = self.vin.codec_context.sample_aspect_ratio
        if sar:
            cc.sample_aspect_ratio = sar
        cc.field_order = FIELD_CODES[self.fields] if self.fields else FIELD_PROGRESSIVE
        if self.timecode:
            stream.metadata["timecode"] = self.timecode
        return stream

    def _check_steady_rate(self) -> None:
        """AVI gives every frame the same duration: refuse a film whose frames do not
        sit on one frame rate's grid, before any time is spent on it (ffmpeg would
        drop and repeat frames to fit; filmcolor keeps every frame as it was).
        Reads the video packets' times only, which is quick."""
        rate = self.vin.average_rate or self.vin.guessed_rate
        tick = 1 / (rate * self.vin.time_base) if rate else None
        with av.open(str(self.src)) as probe:
            times = sorted(p.pts for p in probe.demux(video=0) if p.pts is not None and p.size)
        if tick is None or len(times) < 2:
            return
        for a, b in zip(times[:-1], times[1:], strict=True):
            frames = (b - a) / tick
            if frames < 0.5 or abs(frames - round(frames)) > 0.1:
                raise OutputError(
                    f"AVI holds one frame rate, and this film's varies (a frame {float((b - a) * self.vin.time_base):.3f}"
                    f" s after the one before, at {float(rate):g} fps): use .mkv or .mp4, which keep every frame's time")

    def _field_order(self) -> int:
        """The source's AVFieldOrder. DV leaves it to each frame, where PyAV cannot
        read it; DV is bottom field first by its standard (SD, 25 and 29.97 fps)."""
        order = self.vin.codec_context.field_order
        if order == FIELD_UNKNOWN and self.vin.codec_context.name == "dvvideo":
            return FIELD_CODES["bff"]
        return order

    def _marked(self, frame: av.VideoFrame) -> av.VideoFrame:
        """``frame`` flagged interlaced with the source's field order (FFmpeg's
        setfield filter; PyAV cannot set the flags itself): x264 takes its field
        order from each frame, and players weave or deinterlace by them."""
        if self.fields is None:
            return frame
        if self._fields_graph is None:
            graph = av.filter.Graph()
            src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                   time_base=frame.time_base)
            mark = graph.add("setfield", self.fields)
            sink = graph.add("buffersink")
            src.link_to(mark)
            mark.link_to(sink)
            graph.configure()
            self._fields_graph = graph
        self._fields_graph.push(frame)
        return self._fields_graph.pull()

    def _add_audio(self, out, s, encoder: str) -> av.stream.Stream:
        stream = out.add_stream(encoder, rate=s.codec_context.sample_rate)
        stream.layout = s.codec_context.layout
        return stream

    # ------------------------------------------------------------ stages

    def _decode(self, pipe: _Pipe) -> None:
        """Stage 1: demux; frames and pass-through packets go down the pipe in order."""
        graph = self._deinterlacer() if self.opts.deinterlace else None
        wanted = {s.index for s in self.copy_streams} | set(self.reencode_streams)
        interlaced_seen = False
        video_packets = decoded = 0
        end = Fraction(0)  # where the streams demuxed so far reach, in seconds
        window, past_end = self.window, False
        try:
            if self.joined is not None:  # the video comes finished: pass the other streams on
                self._pass_packets(pipe, wanted)
                return
            if window is not None and window.seek is not None:
                self.input.seek(window.seek, stream=self.vin, backward=True)
            for packet in self.input.demux(self.vin) if window else self.input.demux():
                if past_end:
                    break
                if packet.pts is not None and packet.time_base:
                    end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
                if packet.stream.index == self.vin.index:
                    if packet.size and not packet.is_discard:  # discarded: before an edit list's start
                        video_packets += 1
                    try:
                        frames = packet.decode()
                    except av.FFmpegError:
                        # a segment counts only the damage in what it writes: segments overlap
                        self.report.damaged_packets += window is None or (
                            packet.pts is not None and window.writes(packet.pts))
                        continue
                    decoded += len(frames)
                    for frame in frames:
                        self.report.concealed_frames += frame.is_corrupt and (
                            window is None or (frame.pts is not None and window.writes(frame.pts)))
                        interlaced_seen |= frame.interlaced_frame
                        for ready, t in self.retimer.push(frame, frame.pts, frame.dts):
                            if window is None or window.colours(t):
                                self._emit(pipe, graph, self._conform(ready), t)
                            past_end |= window is not None and window.done(t)
                elif packet.stream.index in wanted and packet.size:  # size 0: demuxer flush
                    pipe.put(("packet", packet))
            # demux() ends with an empty packet per stream, whose decode() flushed the decoder
            for ready, t in self.retimer.flush():
                if window is None or window.colours(t):
                    self._emit(pipe, graph, self._conform(ready), t)
            if window is None:
                self._say_what_is_missing(end)
            if self.retimer.repaired:
                self.report.retimed = self.retimer.repaired
                self.report.notices.append(f"timestamps repaired: {self.retimer.describe()}")
            if graph is not None:
                graph.push(None)
                self._drain(pipe, graph)
            # a decoder that conceals damage may still swallow frames: count them
            if window is None:
                self.report.lost_frames = max(0, video_packets - decoded - self.report.damaged_packets)
            for seen, n in self.report.resized_frames.items():
                self.report.warnings.append(f"{n} frames changed to {seen} in mid-stream; scaled back to the "
                                            f"film's {self.width}x{self.height} {self.in_format}")
            if interlaced_seen and not self.opts.deinterlace:
                kept = f"kept {FIELD_NAMES[self.fields]}" if self.fields else "its field order unknown, written as progressive"
                self.report.notices.append(f"source is interlaced ({kept}); --deinterlace would remove combing")
            pipe.put(_END)
        except _Stop:
            pass
        except BaseException as e:  # handed to the main thread, which reports it
            self.errors.append(e)
            self.stop.set()

    def _pass_packets(self, pipe: _Pipe, wanted: set[int]) -> None:
        """Join mode's stage 1: the packets of the streams other than the video. The
        video's packets are only timed (not decoded), so that frames the demuxer
        skips are said as in one piece."""
        end = Fraction(0)
        for packet in self.input.demux():
            if packet.pts is not None and packet.time_base:
                end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
            if packet.stream.index == self.vin.index:
                if packet.size and not packet.is_discard:
                    self.retimer.push(None, packet.pts, packet.dts)
            elif packet.stream.index in wanted and packet.size:
                pipe.put(("packet", packet))
        self.retimer.flush()
        self._say_what_is_missing(end)
        pipe.put(_END)

    def _say_what_is_missing(self, end: Fraction) -> None:
        """Warn about frames the demuxer skipped without a word: gaps in a steady
        film (a damaged cluster), and a file that ends before its header says."""
        lost, where = self.retimer.missing_frames()
        if lost:
            at = ", ".join(f"{float(t * self.vin.time_base):.2f} s" for t in where[:5])
            self.report.warnings.append(f"about {lost} frames missing in the source (damaged at {at}"
                                        f"{' ...' if len(where) > 5 else ''}); the film jumps there")
        declared = self.input.duration
        if not declared or self._clock_restarts() or self.input.format.flags & AVFMT_NOTIMESTAMPS:
            return  # no length given, or only an estimate from the bit rate
        declared_end = Fraction(declared + (self.input.start_time or 0), 1_000_000)
        short = declared_end - end
        rate = self.vin.average_rate or Fraction(25)
        if short > max(Fraction(1, 2), 2 / rate):
            self.report.warnings.append(
                f"the source says it lasts {float(declared_end):.2f} s but ends at {float(end):.2f} s: "
                f"the last {float(short):.2f} s (about {round(short * rate)} frames) are missing "
                "(the file is cut short or damaged)")

    def _conform(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A frame whose size or pixel format changed in mid-stream (a spliced
        broadcast, a concatenated archive) scaled back to the film's first one,
        as ffmpeg does: one film has one size, and every frame is kept."""
        if (frame.width, frame.height) == (self.width, self.height) and frame.format.name == self.in_format:
            return frame
        seen = f"{frame.width}x{frame.height} {frame.format.name}"
        self.report.resized_frames[seen] = self.report.resized_frames.get(seen, 0) + 1
        scaled = frame.reformat(width=self.width, height=self.height, format=self.in_format,
                                interpolation="AREA" if frame.width > self.width else "BICUBIC")
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled

    def _emit(self, pipe: _Pipe, graph, frame, t: int) -> None:
        frame.pts, frame.time_base = t, self.vin.time_base
        if graph is None:
            pipe.put(("frame", frame))
            return
        graph.push(frame)
        self._drain(pipe, graph)

    def _drain(self, pipe: _Pipe, graph) -> None:
        while True:
            try:
                pipe.put(("frame", graph.pull()))
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    def _deinterlacer(self):
        graph = av.filter.Graph()
        src = graph.add_buffer(template=self.vin)
        bwdif = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")  # one frame out per frame in
        sink = graph.add("buffersink")
        src.link_to(bwdif)
        bwdif.link_to(sink)
        graph.configure()
        return graph

    def _colorize(self, inp: _Pipe, out: _Pipe) -> None:
        """Stage 2: batches of frames -> coloured frames; packets pass straight on."""
        from .temporal import Smoother

        smoother = Smoother() if self.opts.smooth else None
        batch: list = []
        threads = self.colorizer.threads  # what the caller had: given back when the film ends
        if self.colorizer.device == "cpu":
            # a quarter of the cores (at least one) for the network: the encoder needs the rest
            self.colorizer.set_threads(self.opts.cpu_threads or max(1, (os.cpu_count() or 1) // 4))
        try:
            while True:
                item = inp.get()
                if item is _END or (item[0] == "frame" and len(batch) + 1 >= self.opts.batch_size):
                    if item is not _END:
                        batch.append(item[1])
                    for frame in self._colorize_frames(batch, smoother):
                        out.put(("frame", frame))
                    batch = []
                    if item is _END:
                        break
                elif item[0] == "frame":
                    batch.append(item[1])
                else:
                    out.put(item)
            if smoother is not None:
                self.report.cuts = smoother.cuts
            out.put(_END)
        except _Stop:
            pass
        except BaseException as e:
            self.errors.append(e)
            self.stop.set()
        finally:
            self.colorizer.set_threads(threads)

    def _colorize_frames(self, frames: list, smoother: Smoother | None) -> list:
        out = self.frame_colorizer.colorize(frames, smoother)
        self.report.batch_size = self.frame_colorizer.batch_size
        self.report.carried = self.frame_colorizer.carried
        return out

    # ------------------------------------------------------------ main

    def run(self) -> VideoReport:
        """Process the film; ``open_input`` must have been called."""
        try:
            return self._run()
        finally:
            self.input.close()

    def _run(self) -> VideoReport:
        try:
            fd, tmp = tempfile.mkstemp(dir=self.dst.parent, prefix=f".{self.dst.stem}.",
                                       suffix=f".part{self.dst.suffix}")
        except OSError as e:
            raise OutputError(f"cannot write in {self.dst.parent}: {e.strerror}") from None
        os.close(fd)
        try:
            try:
                output = av.open(tmp, "w", format=format_for(self.dst))
            except av.FFmpegError as e:
                raise OutputError(f"cannot write {self.dst.suffix} files ({e.strerror or e})") from None
            try:
                with output:
                    self.plan_output(output.format.name)
                    self._encode_all(output)
                if self.report.frames == 0:
                    raise InputError("no frames could be decoded")
                publish(tmp, self.dst)
            except OSError as e:
                if any(e is err for err in self.errors):  # the input side's: a reading error, shown as it is
                    raise
                # the disk filled, a quota or file-size limit, a network share gone...
                raise OutputError(f"cannot write {self.dst}: {e.strerror or e}") from None
            except av.FFmpegError as e:
                if any(e is err for err in self.errors):
                    raise
                # a muxer or encoder refusing what it was given: a filmcolor bug or an odd source
                raise OutputError(f"FFmpeg refused to write {self.dst.name} ({e.strerror or e}); "
                                  "--debug shows FFmpeg's own message") from e
            return self.report
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _encode_all(self, output) -> None:
        if self.joined is not None:
            segments = [av.open(str(p)) for p in self.joined]
            try:
                vout = output.add_stream_from_template(segments[0].streams.video[0])
            except av.codec.codec.UnknownCodecError:
                # PyAV names the codec by its decoder, and AV1's (libdav1d) names no
                # encoder: take the template's codec parameters as they are
                vout = output.add_stream_from_template(segments[0].streams.video[0], opaque=True)
            # what _add_video gives an encoded stream: a QuickTime timecode track needs the frame rate
            vout.time_base = self.vin.time_base
            vout.codec_context.framerate = self.rate
            if self.timecode:
                vout.metadata["timecode"] = self.timecode
        else:
            segments = []
            vout = self._add_video(output)
        rotation = self._rotation()
        if rotation:
            vout.set_display_rotation(rotation)
        try:
            self._encode_streams(output, vout, segments)
        finally:
            for c in segments:
                c.close()

    def _encode_streams(self, output, vout, segments: list) -> None:
        streams = {s.index: output.add_stream_from_template(s) for s in self.copy_streams}
        for s in self.copy_streams:
            streams[s.index].disposition = s.disposition  # cover art stays cover art, a default track the default
        decoders, audio_out = {}, {}
        self._audio_next: dict[int, int] = {}  # per re-encoded stream: the next frame's pts, in samples
        for idx, enc in self.reencode_streams.items():
            s = self.input.streams[idx]
            audio_out[idx] = self._add_audio(output, s, enc)
            decoders[idx] = s.codec_context
            self.report.reencoded.append(f"{describe(s)} re-encoded as {enc}")
        copied = dict.fromkeys(streams, 0)  # packets copied, per source stream
        output.start_encoding()  # the muxer settles each stream's clock: what the retimers must respect
        restarts = self._clock_restarts()
        # MPEG-TS/PS keep a broadcast clock that starts anywhere (DVDs at 0.5 s, TS at 1.4 s), and AVI
        # cannot start anywhere but 0: the film is moved to start at 0, as ffmpeg does, or players show
        # that long a black lead-in; others keep their start
        to_zero = restarts or output.format.name == "avi"
        self.start_shift = Fraction(self.input.start_time or 0, 1_000_000) if to_zero else Fraction(0)

        def retimer(stream: av.stream.Stream, step: int, out_base: Fraction) -> Retimer:
            return Retimer(step=step, min_step=_ticks(out_base, stream.time_base), clock_restarts=restarts,
                           jump_ticks=_ticks(Fraction(JUMP_SECONDS), stream.time_base),
                           offset=-round(self.start_shift / stream.time_base))

        self.retimer = retimer(self.vin, self._frame_ticks(), vout.time_base)
        self._packet_retimers = {s.index: retimer(s, 1, streams[s.index].time_base)
                                 for s in self.copy_streams if s.time_base}
        if self.start_shift:
            self.report.notices.append(f"the source's clock starts at {float(self.start_shift):.2f} s; "
                                       "the film now starts at 0")

        size = max(2, self.opts.queue_batches) * self.opts.batch_size
        decoded, colored = _Pipe(size, self.stop), _Pipe(size, self.stop)
        workers = [threading.Thread(target=self._decode, args=(decoded,), daemon=True, name="filmcolor-decode")]
        if segments:  # joining finished segments: nothing to colorize
            colored = decoded
            finished = _SegmentPackets(segments, vout, self.report, self.progress)
        else:
            workers.append(threading.Thread(target=self._colorize, args=(decoded, colored), daemon=True,
                                            name="filmcolor-colour"))
        try:  # started inside: an interrupt between two starts must still join the first
            for t in workers:
                t.start()
            while True:
                try:
                    item = colored.get()
                except _Stop:
                    break
                if item is _END:
                    break
                kind, obj = item
                if segments and obj.pts is not None and obj.time_base:  # the video up to this packet's time
                    finished.mux_until(output, obj.pts * obj.time_base)
                if kind == "frame":
                    if self.window is not None and not self.window.writes(obj.pts):
                        continue  # coloured for the frames beside it; written by the segment before or after
                    if self.report.first_pts is None:
                        self.report.first_pts = obj.pts
                    for packet in vout.encode(self._marked(obj)):
                        output.mux(packet)
                    self.report.frames += 1
                    self.progress(1)
                elif (idx := obj.stream.index) in streams:
                    self._retime_packet(obj)
                    obj.stream = streams[idx]
                    output.mux(obj)
                    copied[idx] += 1
                else:
                    self._reencode(output, decoders, audio_out, obj)
        finally:
            # normal end: both stages have finished; otherwise this tells them to
            self.stop.set()
            _join_all(workers)
        if self.errors:
            raise self.errors[0]
        if segments:
            finished.mux_until(output, None)
        else:
            for packet in vout.encode(None):
                output.mux(packet)
        self.report.copied = [describe(s) for s in self.copy_streams if copied[s.index]]
        for s in self.copy_streams:
            if not copied[s.index]:
                dropped = " (.mp4 and .mov keep no empty track)" if output.format.name in ("mp4", "mov") else ""
                self.report.warnings.append(f"{describe(s)} holds no packets in the source: an empty track{dropped}")
        for idx, stream in audio_out.items():
            for frame in decoders[idx].decode(None):
                self._encode_audio(output, stream, idx, frame)
            for packet in stream.encode(None):
                output.mux(packet)

    def _frame_ticks(self) -> int:
        """One frame's duration in the video's time base (at least one tick)."""
        return max(1, round(1 / (self.rate * self.vin.time_base)))

    def _clock_restarts(self) -> bool:
        """Whether the source's format says its clock may restart (MPEG-TS/PS)."""
        return bool(self.input.format.flags & AVFMT_TS_DISCONT)

    def _retime_packet(self, packet: av.Packet) -> None:
        """A copied packet's decode time kept increasing, as the muxer demands (a
        restarted or damaged clock would make it refuse); its presentation time
        moves with it. Packets without times pass as they are."""
        retimer = self._packet_retimers.get(packet.stream.index)
        if retimer is None or packet.dts is None:
            return
        retimer.step = max(1, packet.duration or retimer.step)
        dts = retimer.place(packet.dts)
        if dts != packet.dts:
            if packet.pts is not None:
                packet.pts += dts - packet.dts
            packet.dts = dts

    def _reencode(self, output, decoders, audio_out, packet) -> None:
        idx = packet.stream.index
        try:
            frames = decoders[idx].decode(packet)
        except av.error.InvalidDataError:
            self.report.damaged_packets += 1
            return
        for frame in frames:
            self._encode_audio(output, audio_out[idx], idx, frame)

    def _encode_audio(self, output, stream, idx: int, frame: av.AudioFrame) -> None:
        """Re-encode one audio frame. Timestamps count samples from where the
        source's audio starts (audio that starts late stays in sync), so the
        encoder sees no gap or overlap from rounding in the source's time base."""
        rate = frame.sample_rate
        if idx not in self._audio_next:
            start = frame.pts * frame.time_base if frame.pts is not None and frame.time_base else 0
            start = max(Fraction(0), start - self.start_shift)
            self._audio_next[idx] = round(start * rate)
        frame.pts, frame.time_base = self._audio_next[idx], Fraction(1, rate)
        self._audio_next[idx] += frame.samples
        for packet in stream.encode(frame):
            output.mux(packet)

    def _rotation(self) -> int:
        """Display rotation in degrees, as the first frame carries it (a separate
        read: the output stream must be set up before the first frame arrives)."""
        try:
            with av.open(str(self.src)) as probe:
                frame = next(probe.decode(video=0), None)
                return int(round(frame.rotation)) if frame is not None and frame.rotation else 0
        except av.FFmpegError:
            return 0


def colorize_video(colorizer: Colorizer, src: str | os.PathLike, dst: str | os.PathLike,
                   opts: VideoOptions | None = None,
                   progress: Callable[[int], None] | None = None,
                   on_start: Callable[[int], None] | None = None) -> VideoReport:
    """Colorize the film ``src`` into ``dst``.

    ``progress(n)`` is called as frames are written; ``on_start(total)`` once
    with the expected frame count (0 if unknown). Raises InputError or
    OutputError with a one-line reason; nothing is left at ``dst`` on failure.
    """
    opts = opts or VideoOptions()
    src, dst = Path(src), Path(dst)
    check_paths(src, dst, opts)
    pipe = Pipeline(colorizer, src, dst, opts, progress)
    pipe.open_input()
    if on_start:
        on_start(pipe.total)
    return pipe.run()


def film_seconds(src: Path) -> float | None:
    """How long the film ``src`` says it is (container, else video stream), in
    seconds; None when it does not say or cannot be read."""
    try:
        with av.open(str(src)) as c:
            if c.duration:
                return c.duration / 1_000_000  # AV_TIME_BASE
            v = c.streams.video[0] if c.streams.video else None
            if v is not None and v.duration and v.time_base:
                return float(v.duration * v.time_base)
    except av.FFmpegError:
        pass
    return None


def _still_picture(src: Path) -> bool:
    """Whether FFmpeg reads ``src`` as a single picture (its image demuxers: image2,
    png_pipe, jpeg_pipe, ...), which would make a one-frame "film"."""
    try:
        with av.open(str(src)) as c:
            name = c.format.name
    except av.FFmpegError:
        return False  # not readable at all: the run says so in its own words
    return name == "image2" or name.endswith("_pipe")


def check_paths(src: Path, dst: Path, opts: VideoOptions) -> None:
    """Refuse, with a one-line reason, what can be refused before any work (no model
    loaded, no frame decoded): a missing input, an output that cannot be written."""
    if opts.codec not in CODECS:
        raise OutputError(f"unknown codec {opts.codec!r}; choose from {', '.join(CODECS)}")
    if opts.batch_size < 1:
        raise ValueError("batch size must be at least 1")
    if opts.key_interval < 1:
        raise ValueError("key interval must be at least 1")
    if not src.exists():
        raise InputError("no such file")
    if not src.is_file():
        raise InputError("not a file")
    if _still_picture(src):
        raise InputError("a still picture, not a film: colorize it with filmcolor image")
    if dst.exists() and os.path.samefile(src, dst):
        raise OutputError("the output is the input; refusing to overwrite it")
    if not dst.parent.is_dir():
        raise OutputError(f"output folder {dst.parent} does not exist")
    if dst.is_dir():
        raise OutputError(f"{dst} is a folder")
    if not ffmpeg_writes(dst):
        raise OutputError(f"{dst.name}: FFmpeg knows no film format by the name {dst.suffix or '(no suffix)'}; "
                          "use .mp4, .mkv or .mov")
