"""Helpers that build test clips with PyAV and read outputs back independently (ffprobe)."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def scene(i: int, w: int, h: int, kind: int = 0) -> np.ndarray:
    """An RGB frame: a sky-to-grass gradient with a red disc moving right (kind 0),
    or a dark room with a lamp (kind 1)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    if kind == 0:
        img[..., 2] = 200 - 100 * yy / h
        img[..., 1] = 80 + 120 * yy / h
        img[..., 0] = 60
        cx, cy = (i * 4) % w, h // 2
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < (min(w, h) // 5) ** 2
        img[disc] = (220, 30, 30)
    else:
        img[:] = (30, 25, 20)
        lamp = (xx - w * 0.7) ** 2 + (yy - h * 0.3) ** 2 < (min(w, h) // 4) ** 2
        img[lamp] = (250, 230, 120)
    return img.clip(0, 255).astype(np.uint8)


def make_clip(
    path: Path, frames: int = 24, size=(96, 64), fps: int = 24, codec: str = "libx264",
    pix_fmt: str = "yuv420p", pts: list[int] | None = None, time_base: Fraction | None = None,
    audio: str | None = None, subtitles: bool = False, cut_at: int | None = None,
    colorspace: int | None = None, color_range: int | None = None, rotation: int = 0,
    sar: Fraction | None = None, options: dict | None = None, color_trc: int | None = None,
    audio_start: float = 0.0,
) -> Path:
    """Write a clip; ``pts`` gives each frame's timestamp (variable frame rate);
    the audio (if any) starts ``audio_start`` seconds in."""
    w, h = size
    tb = time_base or Fraction(1, fps * 100)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps, options=options or {})
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if colorspace is not None:
            vs.codec_context.colorspace = colorspace
        if color_range is not None:
            vs.codec_context.color_range = color_range
        if color_trc is not None:
            vs.codec_context.color_trc = color_trc
        if sar is not None:
            vs.codec_context.sample_aspect_ratio = sar
        if rotation:
            vs.set_display_rotation(rotation)
        aus = None
        if audio:
            aus = out.add_stream(audio, rate=48000)
            aus.layout = "stereo"
        srt = ss = None
        if subtitles:
            # PyAV cannot open a subtitle encoder from scratch: demux an .srt and copy it
            srt_path = path.with_suffix(".srt")
            srt_path.write_text("1\n00:00:00,000 --> 00:00:00,400\nline 0\n\n2\n00:00:00,500 --> 00:00:00,900\nline 1\n")
            srt = av.open(str(srt_path))
            ss = out.add_stream_from_template(srt.streams.subtitles[0])
        stamps = pts or [round(i / fps / tb) for i in range(frames)]
        for i, t in enumerate(stamps):
            kind = 1 if cut_at is not None and i >= cut_at else 0
            frame = av.VideoFrame.from_ndarray(scene(i, w, h, kind), format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = t, tb
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if aus is not None:
            seconds = float(stamps[-1] * tb) + 1 / fps
            n = int(seconds * 48000)
            t = np.arange(n) / 48000
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = np.stack([wave[start : start + 1024]] * 2)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
                af.sample_rate = 48000
                af.pts = start + round(audio_start * 48000)
                af.time_base = Fraction(1, 48000)
                for p in aus.encode(af):
                    out.mux(p)
            for p in aus.encode(None):
                out.mux(p)
        if srt is not None:
            for pkt in srt.demux():
                if pkt.dts is not None:
                    pkt.stream = ss
                    out.mux(pkt)
            srt.close()
    return path


def ffprobe(path: Path, *args: str) -> dict:
    exe = shutil.which("ffprobe")
    assert exe, "ffprobe not installed (apt-get install ffmpeg)"
    r = subprocess.run([exe, "-v", "error", "-of", "json", *args, str(path)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def frame_pts(path: Path) -> list[int]:
    d = ffprobe(path, "-select_streams", "v:0", "-show_entries", "frame=pts")
    return [f["pts"] for f in d["frames"]]


def packet_hashes(path: Path, selector: str) -> list[tuple]:
    d = ffprobe(path, "-select_streams", selector, "-show_packets", "-show_data_hash", "md5")
    return [(p.get("pts"), p["data_hash"]) for p in d["packets"]]


def duration(path: Path) -> float:
    """The container's duration in seconds, as ffprobe reports it."""
    return float(ffprobe(path, "-show_entries", "format=duration")["format"]["duration"])


def stream_info(path: Path) -> list[dict]:
    return ffprobe(path, "-show_streams")["streams"]


def lumas(path: Path) -> list[np.ndarray]:
    """The luma planes of every frame, as PyAV decodes them."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            dtype = np.uint16 if "10" in f.format.name else np.uint8
            p = f.planes[0]
            out.append(np.frombuffer(p, dtype).reshape(-1, p.line_size // np.dtype(dtype).itemsize)[: f.height, : f.width].copy())
    return out


def rgb_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
