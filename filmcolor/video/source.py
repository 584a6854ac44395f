"""Opening a film and reading, once, what every stage needs to know of it:
its video stream, frame size and rate, field order, timecode, rotation and
declared end."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..encoding import CODECS, ffmpeg_writes
from ..errors import InputError, OutputError
from .options import VideoOptions

AVFMT_TS_DISCONT = 0x0200  # libavformat: the format's timestamps may jump (MPEG-TS, MPEG-PS)
AVFMT_NOTIMESTAMPS = 0x0080  # libavformat: raw streams, whose times are made up
# AVFieldOrder (libavcodec/defs.h)
FIELD_UNKNOWN, FIELD_PROGRESSIVE = 0, 1
FIELD_CODES = {"tff": 2, "bff": 3}


@dataclass
class Source:
    """An open film and what was derived from it. ``close()`` when done."""

    path: Path
    container: av.container.InputContainer
    vin: av.VideoStream  # the film's video stream (not cover art)
    width: int
    height: int
    in_format: str  # the decoder's pixel format name
    rate: Fraction  # the nominal frame rate: what the encoder is told, and one frame for repairs
    total: int  # frames the header promises (0: unknown)
    timecode: str | None  # the starting timecode (HH:MM:SS:FF), of the stream or a QuickTime tmcd track
    # a decoder other than the stream's own (None: the stream's): see _alpha_decoder
    decoder: av.CodecContext | None = None

    def decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        """The frames one video packet gives (an empty packet flushes the decoder)."""
        return self.decoder.decode(packet) if self.decoder is not None else packet.decode()

    @property
    def clock_restarts(self) -> bool:
        """Whether the format says its clock may restart (MPEG-TS/PS)."""
        return bool(self.container.format.flags & AVFMT_TS_DISCONT)

    @property
    def declared_end(self) -> Fraction | None:
        """Where the container says the film ends (seconds); None where it gives no
        length, or only an estimate from the bit rate."""
        declared = self.container.duration
        if not declared or self.clock_restarts or self.container.format.flags & AVFMT_NOTIMESTAMPS:
            return None
        return Fraction(declared + (self.container.start_time or 0), 1_000_000)

    @property
    def start_time(self) -> Fraction:
        return Fraction(self.container.start_time or 0, 1_000_000)

    def frame_ticks(self) -> int:
        """One frame's duration in the video's time base (at least one tick)."""
        return max(1, round(1 / (self.rate * self.vin.time_base)))

    def field_order(self) -> int:
        """The AVFieldOrder. DV leaves it to each frame, where PyAV cannot read it;
        DV is bottom field first by its standard (SD, 25 and 29.97 fps)."""
        order = self.vin.codec_context.field_order
        if order == FIELD_UNKNOWN and self.vin.codec_context.name == "dvvideo":
            return FIELD_CODES["bff"]
        return order

    @functools.cached_property
    def rotation(self) -> int:
        """Display rotation in degrees, as the first frame carries it (a separate
        read: the output stream must be set up before the first frame arrives)."""
        try:
            with av.open(str(self.path)) as probe:
                frame = next(probe.decode(video=0), None)
                return int(round(frame.rotation)) if frame is not None and frame.rotation else 0
        except av.FFmpegError:
            return 0

    def close(self) -> None:
        self.container.close()


def open_source(path: str | os.PathLike) -> Source:
    """Open the film at ``path``; InputError with a one-line reason if it is none."""
    path = Path(path)
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as e:
        raise InputError(f"not a video PyAV can read ({e.strerror or e})") from None
    try:
        return _probe(path, container)
    except BaseException:
        container.close()
        raise


def _probe(path: Path, container: av.container.InputContainer) -> Source:
    if not container.streams.video:
        raise InputError("no video stream")
    # the film, not its cover art (an attached picture is a one-frame "video" stream)
    films = [v for v in container.streams.video if not v.disposition & av.stream.Disposition.attached_pic]
    if not films:
        raise InputError("no video stream (only a cover picture)")
    vin = films[0]
    vin.thread_type = "AUTO"
    cc = vin.codec_context
    if not cc.width or not cc.height:
        raise InputError("video stream without a frame size")
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    if vin.guessed_rate and rate > 4 * vin.guessed_rate:
        rate = vin.guessed_rate  # raw DV says 60000 fps on average (its clock's tick); its codec says 25
    total = vin.frames or (int(vin.duration * vin.time_base * rate) if vin.duration else 0)
    # the stream's own, a DV file's (a tag of the container), or a QuickTime tmcd track's
    timecode = vin.metadata.get("timecode") or container.metadata.get("timecode")
    for s in container.streams:
        # a QuickTime timecode (tmcd) track: its one packet cannot be copied into another film;
        # given to the video as "timecode", the muxer writes it as each container can
        if timecode is None and s.type == "data" and s.metadata.get("timecode"):
            timecode = s.metadata["timecode"]
    in_format = cc.format.name if cc.format else "yuv420p"
    decoder = _alpha_decoder(vin, in_format)
    return Source(path=path, container=container, vin=vin, width=cc.width, height=cc.height,
                  in_format="yuva420p" if decoder else in_format, rate=rate, total=total, timecode=timecode,
                  decoder=decoder)


def _alpha_decoder(vin: av.VideoStream, in_format: str) -> av.CodecContext | None:
    """libvpx's VP9 decoder for a WebM film with transparency, else None.

    WebM keeps VP9's alpha as a second VP9 picture in each block's side data
    (``alpha_mode`` 1). FFmpeg's own VP9 decoder, the stream's default, leaves
    it out; libvpx's decodes both and gives yuva420p, as ``ffmpeg -c:v
    libvpx-vp9 -i`` does. libvpx holds alpha for 8-bit 4:2:0 only.
    """
    if vin.codec_context.name != "vp9" or in_format != "yuv420p" or "libvpx-vp9" not in av.codecs_available:
        return None
    if vin.metadata.get("alpha_mode", vin.metadata.get("ALPHA_MODE")) != "1":
        return None
    try:  # an FFmpeg built with libvpx's encoder only names it too
        decoder = av.CodecContext.create("libvpx-vp9", "r")
    except (av.FFmpegError, ValueError):
        return None  # the alpha is said to be lost (layout._alpha)
    decoder.thread_type = "AUTO"
    return decoder


def expected_frames(path: str | os.PathLike) -> int:
    """The frames the film's header promises (0: unknown or unreadable)."""
    try:
        source = open_source(path)
    except InputError:
        return 0
    source.close()
    return source.total


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


def still_picture(src: Path) -> bool:
    """Whether FFmpeg reads ``src`` as a single picture (its image demuxers: image2,
    png_pipe, jpeg_pipe, ...), which would make a one-frame "film"."""
    try:
        with av.open(str(src)) as c:
            name = c.format.name
    except av.FFmpegError:
        return False  # not readable at all: the run says so in its own words
    return name == "image2" or name.endswith("_pipe")


def check_steady_rate(source: Source) -> None:
    """AVI gives every frame the same duration: refuse a film whose frames do not
    sit on one frame rate's grid, before any time is spent on it (ffmpeg would
    drop and repeat frames to fit; filmcolor keeps every frame as it was).
    Reads the video packets' times only, which is quick."""
    vin, rate = source.vin, source.rate
    if not (vin.average_rate or vin.guessed_rate):
        return  # no rate of its own to hold the frames to
    tick = 1 / (rate * vin.time_base)
    with av.open(str(source.path)) as probe:
        times = sorted(p.pts for p in probe.demux(video=0) if p.pts is not None and p.size)
    if len(times) < 2:
        return
    for a, b in zip(times[:-1], times[1:], strict=True):
        frames = (b - a) / tick
        if frames < 0.5 or abs(frames - round(frames)) > 0.1:
            raise OutputError(
                f"AVI holds one frame rate, and this film's varies (a frame {float((b - a) * vin.time_base):.3f}"
                f" s after the one before, at {float(rate):g} fps): use .mkv or .mp4, which keep every frame's time")


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
    if still_picture(src):
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
