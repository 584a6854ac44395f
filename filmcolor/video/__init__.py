"""Films: a streaming decode -> colorize -> encode pipeline on PyAV, built
of small stages (see pipeline.py for how they fit).

    source.py    opening the film and what is derived from it, once
    layout.py    planning the output streams
    demux.py     demux + retime + decode (+ deinterlace)
    stages.py    the colour stage
    mux.py       encode + mux, stream copy, audio re-encode, the join's packets
    threads.py   the runner that puts stages on threads, bounded queues between
    pipeline.py  whole film, one segment, join: compositions of the above
"""

from __future__ import annotations

from ..encoding import CODECS, X264_PRESETS
from .options import VideoOptions, VideoReport, Window
from .pipeline import colorize_video, join_segments, render_window
from .source import check_paths, expected_frames, film_seconds

__all__ = ["CODECS", "X264_PRESETS", "VideoOptions", "VideoReport", "Window", "check_paths", "colorize_video",
           "expected_frames", "film_seconds", "join_segments", "render_window"]
