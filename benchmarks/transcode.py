"""The plain transcode that film speed is measured against: PyAV decode and
libx264 encode, nothing else. Its own module, importing only PyAV, so that
the transcode run as a process (benchmarks/film_process.py) pays no start-up
of filmcolor's.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType


def transcode(src: Path, dst: Path, preset: str, crf: int) -> int:
    """Decode and re-encode with libx264, copying other streams: the baseline.

    Each frame's picture type is cleared before it goes to the encoder, as the
    ffmpeg command line does and as filmcolor's freshly built frames are: a
    decoded frame still carries its source type (I/P/B), and libx264 obeys it,
    copying the source's GOP instead of choosing B-frames itself (about 15%
    less encoder work on bigbuckbunny.mp4, which has no B-frames), so the two
    sides would not run the same encoder settings.
    """
    frames = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset})
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        others = {s.index: out.add_stream_from_template(s) for s in inp.streams if s is not vin and s.type == "audio"}
        for packet in inp.demux():
            if packet.stream is vin:
                for frame in packet.decode():
                    frame.pict_type = PictureType.NONE
                    for p in vout.encode(frame):
                        out.mux(p)
                    frames += 1
            elif packet.stream.index in others and packet.size:
                packet.stream = others[packet.stream.index]
                out.mux(packet)
        for p in vout.encode(None):
            out.mux(p)
    return frames
