"""What a film render is told (VideoOptions, Window) and what it tells back (VideoReport)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..temporal import SmoothConfig


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
    smoothing: SmoothConfig = field(default_factory=SmoothConfig)  # how colour is carried and held (smooth)
    drop: tuple[str, ...] = ()  # streams left out (--drop: 3, a:1, s, d, t)
    pix_fmt: str | None = None  # the encoder's pixel format; None: chosen (encoding.choose_pixel_format)
    queue_batches: int = 2  # batches buffered between stages
    # (from second, Reference): each reference photo steers the colour from its time to the next one's;
    # made by colorizer.reference(rgb, size=colorizer.film_size), fitted where the frames are seen
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
    """What happened, for the summary line. Each stage fills its own and the
    render merges them when every stage has ended (:meth:`add`)."""

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
    window_packets: int = 0  # a segment's video packets in what it writes: what its plan counted
    kept_frames: int = 0  # of ``frames``, those an earlier, interrupted render had finished (a resume)

    def add(self, other: VideoReport) -> None:
        """Take in what another stage (or segment) counted and said; each line once."""
        for name in ("frames", "damaged_packets", "lost_frames", "concealed_frames", "retimed", "cuts", "carried",
                     "window_packets", "kept_frames"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for seen, n in other.resized_frames.items():
            self.resized_frames[seen] = self.resized_frames.get(seen, 0) + n
        for name in ("copied", "reencoded", "notices", "warnings"):
            mine = getattr(self, name)
            mine += [line for line in getattr(other, name) if line not in mine]
        self.batch_size = other.batch_size or self.batch_size
        if self.first_pts is None:
            self.first_pts = other.first_pts
