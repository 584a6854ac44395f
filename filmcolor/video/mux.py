"""The last stage: encode the coloured frames and mux them with the copied and
re-encoded streams, each packet's time kept increasing as muxers demand.

:class:`Muxer` sets the output's streams up from the plan and settles their
clocks (``start``); ``write`` takes the items of the stage before, in order;
``finish`` flushes the encoders. A join takes its video packets from
finished segments (:class:`SegmentPackets`) instead of encoding frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import av

from ..encoding import describe
from ..timestamps import JUMP_SECONDS, Retimer
from .layout import OutputPlan, add_audio
from .options import VideoReport
from .source import Source
from .tags import copy_container_tags, copy_stream_tags


def _ticks(duration: Fraction, time_base: Fraction) -> int:
    """``duration`` (seconds, or one tick of another clock) in whole ticks of ``time_base``, rounded up, >= 1."""
    return max(1, math.ceil(duration / time_base))


class Muxer:
    """The output container's streams and clocks; fed items by the render."""

    def __init__(self, output: av.container.OutputContainer, source: Source, plan: OutputPlan,
                 report: VideoReport, progress: Callable[[int], None], vout: av.stream.Stream):
        """``vout``: the output's video stream (encoded: layout.add_video; copied
        from segments: :func:`copied_video`). The other streams are added here."""
        self.output, self.source, self.plan, self.report, self.progress = output, source, plan, report, progress
        self.vout = vout
        self.order = [source.vin]  # the source streams behind the output's, in its order
        if source.rotation:
            vout.set_display_rotation(source.rotation)
        self.streams, self.decoders, self.audio_out = {}, {}, {}
        self.audio_next: dict[int, int] = {}  # per re-encoded stream: the next frame's pts, in samples
        copied = {s.index for s in plan.copy}
        # in the source's order: a re-encoded track keeps its place among the others
        for s in source.container.streams:
            if s.index in copied:
                self.streams[s.index] = out = output.add_stream_from_template(s)
            elif s.index in plan.reencode:
                self.audio_out[s.index] = out = add_audio(output, s, plan.reencode[s.index])
                self.decoders[s.index] = s.codec_context
                report.reencoded.append(f"{describe(s)} re-encoded as {plan.reencode[s.index]}")
            else:
                continue
            self.order.append(s)
            copy_stream_tags(s, out)  # language, title; cover art stays cover art, a default track the default
        if not plan.video_only:
            copy_stream_tags(source.vin, vout)
            if source.timecode:
                vout.metadata["timecode"] = source.timecode
            copy_container_tags(source.container, output)
        self.copied = dict.fromkeys(self.streams, 0)  # packets copied, per source stream
        self.fields_graph = None
        output.start_encoding()  # the muxer settles each stream's clock: what the retimers must respect
        # MPEG-TS/PS keep a broadcast clock that starts anywhere (DVDs at 0.5 s, TS at 1.4 s), and AVI
        # cannot start anywhere but 0: the film is moved to start at 0, as ffmpeg does, or players show
        # that long a black lead-in; others keep their start
        to_zero = source.clock_restarts or output.format.name == "avi"
        self.start_shift = source.start_time if to_zero else Fraction(0)
        self.retimer = self._retimer(source.vin, source.frame_ticks(), vout.time_base)
        self.packet_retimers = {s.index: self._retimer(s, 1, self.streams[s.index].time_base)
                                for s in plan.copy if s.time_base}
        if self.start_shift:
            report.notices.append(f"the source's clock starts at {float(self.start_shift):.2f} s; "
                                  "the film now starts at 0")

    def _retimer(self, stream: av.stream.Stream, step: int, out_base: Fraction) -> Retimer:
        return Retimer(step=step, min_step=max(Fraction(1), out_base / stream.time_base), clock_restarts=self.source.clock_restarts,
                       jump_ticks=_ticks(Fraction(JUMP_SECONDS), stream.time_base),
                       offset=-round(self.start_shift / stream.time_base))

    # ------------------------------------------------------------ items

    def write_frame(self, frame: av.VideoFrame) -> None:
        if self.report.first_pts is None:
            self.report.first_pts = frame.pts
        for packet in self.vout.encode(self._marked(frame)):
            self.output.mux(packet)
        self.report.frames += 1
        self.progress(1)

    def write_packet(self, packet: av.Packet) -> None:
        """A packet of another stream: copied (retimed) or decoded and re-encoded."""
        idx = packet.stream.index
        if idx in self.streams:
            self._retime_packet(packet)
            packet.stream = self.streams[idx]
            self.output.mux(packet)
            self.copied[idx] += 1
            return
        try:
            frames = self.decoders[idx].decode(packet)
        except av.error.InvalidDataError:
            self.report.damaged_packets += 1
            return
        for frame in frames:
            self._encode_audio(idx, frame)

    def finish(self, flush_video: bool = True) -> None:
        """Flush the encoders (the video's too unless its packets came finished) and
        say which streams were copied, and which were empty."""
        if flush_video:
            for packet in self.vout.encode(None):
                self.output.mux(packet)
        # an attachment (a font, a cover) is all header, no packets: copied whole with the stream
        self.report.copied = [describe(s) for s in self.plan.copy if self.copied[s.index] or s.type == "attachment"]
        for s in self.plan.copy:
            if not self.copied[s.index] and s.type != "attachment":
                dropped = " (.mp4 and .mov keep no empty track)" if self.output.format.name in ("mp4", "mov") else ""
                self.report.warnings.append(f"{describe(s)} holds no packets in the source: an empty track{dropped}")
        for idx, stream in self.audio_out.items():
            for frame in self.decoders[idx].decode(None):
                self._encode_audio(idx, frame)
            for packet in stream.encode(None):
                self.output.mux(packet)

    # ------------------------------------------------------------ details

    def _retime_packet(self, packet: av.Packet) -> None:
        """A copied packet's decode time kept increasing, as the muxer demands (a
        restarted or damaged clock would make it refuse); its presentation time
        moves with it. Packets without times pass as they are."""
        retimer = self.packet_retimers.get(packet.stream.index)
        if retimer is None or packet.dts is None:
            return
        retimer.step = max(1, packet.duration or retimer.step)
        dts = retimer.place(packet.dts)
        if dts != packet.dts:
            if packet.pts is not None:
                packet.pts += dts - packet.dts
            packet.dts = dts

    def _encode_audio(self, idx: int, frame: av.AudioFrame) -> None:
        """Re-encode one audio frame. Timestamps count samples from where the
        source's audio starts (audio that starts late stays in sync), so the
        encoder sees no gap or overlap from rounding in the source's time base."""
        rate = frame.sample_rate
        if idx not in self.audio_next:
            start = frame.pts * frame.time_base if frame.pts is not None and frame.time_base else 0
            start = max(Fraction(0), start - self.start_shift)
            self.audio_next[idx] = round(start * rate)
        frame.pts, frame.time_base = self.audio_next[idx], Fraction(1, rate)
        self.audio_next[idx] += frame.samples
        for packet in self.audio_out[idx].encode(frame):
            self.output.mux(packet)

    def _marked(self, frame: av.VideoFrame) -> av.VideoFrame:
        """``frame`` flagged interlaced with the source's field order (FFmpeg's
        setfield filter; PyAV cannot set the flags itself): x264 takes its field
        order from each frame, and players weave or deinterlace by them."""
        if self.plan.fields is None:
            return frame
        if self.fields_graph is None:
            graph = av.filter.Graph()
            src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                   time_base=frame.time_base)
            mark = graph.add("setfield", self.plan.fields)
            sink = graph.add("buffersink")
            src.link_to(mark)
            mark.link_to(sink)
            graph.configure()
            self.fields_graph = graph
        self.fields_graph.push(frame)
        return self.fields_graph.pull()


def copied_video(output: av.container.OutputContainer, source: Source, segment: av.container.InputContainer
                 ) -> av.stream.Stream:
    """The output's video stream for a join: the first segment's, copied."""
    try:
        vout = output.add_stream_from_template(segment.streams.video[0])
    except av.codec.codec.UnknownCodecError:
        # PyAV names the codec by its decoder, and AV1's (libdav1d) names no
        # encoder: take the template's codec parameters as they are
        vout = output.add_stream_from_template(segment.streams.video[0], opaque=True)
    # what add_video gives an encoded stream: a QuickTime timecode track needs the frame rate
    vout.time_base = source.vin.time_base
    vout.codec_context.framerate = source.rate
    if source.timecode:
        vout.metadata["timecode"] = source.timecode
    return vout


class SegmentPackets:
    """The video packets of finished segments, in order, for the join: each is
    muxed when the other streams have reached its time. Where one segment's
    encoder delayed its first decode times into the one before's (B-frames),
    decode times are moved just after the last, never past their own
    presentation time."""

    def __init__(self, segments: list[av.container.InputContainer], muxer: Muxer):
        self.packets = (p for c in segments for p in c.demux(c.streams.video[0]) if p.size)
        self.muxer = muxer
        self.next = next(self.packets, None)
        self.last_dts: int | None = None

    def mux_until(self, seconds: Fraction | None) -> None:
        m = self.muxer
        while self.next is not None and (seconds is None or self._time(self.next) <= seconds):
            p = self.next
            if p.dts is not None and self.last_dts is not None and p.dts <= self.last_dts:
                p.dts = min(self.last_dts + 1, p.pts) if p.pts is not None else self.last_dts + 1
            self.last_dts = p.dts if p.dts is not None else self.last_dts
            p.stream = m.vout
            m.output.mux(p)
            m.report.frames += 1  # one packet, one frame: what the segments' encoders wrote
            m.progress(1)
            self.next = next(self.packets, None)

    @staticmethod
    def _time(p: av.Packet) -> Fraction:
        t = p.dts if p.dts is not None else p.pts
        return t * p.time_base if t is not None else Fraction(0)
