"""What an output file can hold, and how filmcolor drives each encoder.

Pixel formats filmcolor reads and writes plane by plane, the encoders it
offers with their options, colour-matrix tags, and a probe that asks FFmpeg
whether a container accepts a stream before any work is done.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .errors import OutputError

# planar YUV / grey formats whose planes we read and write directly:
# name -> (bits, log2 chroma subsampling x, y, full range)
PLANAR = {
    "yuv420p": (8, 1, 1, False), "yuvj420p": (8, 1, 1, True),
    "yuv422p": (8, 1, 0, False), "yuvj422p": (8, 1, 0, True),
    "yuv444p": (8, 0, 0, False), "yuvj444p": (8, 0, 0, True),
    "yuv420p10le": (10, 1, 1, False), "yuv422p10le": (10, 1, 0, False), "yuv444p10le": (10, 0, 0, False),
    "yuv420p12le": (12, 1, 1, False), "yuv422p12le": (12, 1, 0, False), "yuv444p12le": (12, 0, 0, False),
    "gray": (8, 1, 1, False), "gray10le": (10, 1, 1, False), "gray12le": (12, 1, 1, False),
}
OUTPUT_FORMATS = [n for n in PLANAR if n.startswith("yuv") and not n.startswith("yuvj")]


def with_alpha(name: str) -> str:
    """The planar format of ``name`` (a key of PLANAR) with an alpha plane: yuv444p10le -> yuva444p10le."""
    return name.replace("yuv", "yuva", 1)


def alpha_format(codec: str, out_format: str) -> str | None:
    """``out_format`` with alpha, where ``codec``'s encoder takes it; else None."""
    encoder = av.codec.Codec(CODECS[codec].encoder, "w")
    name = with_alpha(out_format)
    return name if any(f.name == name for f in encoder.video_formats or []) else None


@functools.lru_cache(maxsize=32)  # asked per frame for formats read through a conversion
def planar_equivalent(name: str) -> str:
    """The PLANAR format that keeps what pixel format ``name`` holds, judged by
    its components, not its name: its bit depth (up to 12) and its chroma
    subsampling (RGB: 4:4:4). nv12 -> yuv420p, p010le -> yuv420p10le,
    yuv420p16le -> yuv420p12le, rgb48le -> yuv444p12le."""
    if name in PLANAR:
        return name
    fmt = av.VideoFormat(name, 64, 64)
    comps = [c for c in fmt.components if not c.is_alpha]
    bits = max(c.bits for c in comps)
    depth = "" if bits <= 8 else "10le" if bits <= 10 else "12le"
    if len(comps) == 1:
        return "gray" + depth
    if fmt.is_rgb:
        return f"yuv444p{depth}"
    sub = {(64, 64): "444", (32, 64): "422"}.get((comps[1].width, comps[1].height), "420")
    return f"yuv{sub}p{depth}"


def source_bits(name: str) -> int:
    """The bit depth of pixel format ``name``'s components."""
    return max(c.bits for c in av.VideoFormat(name, 64, 64).components if not c.is_alpha)


@dataclass(frozen=True)
class CodecPreset:
    """How filmcolor drives one encoder: the name FFmpeg knows and its options."""

    encoder: str
    crf_option: str | None = "crf"
    preset: Callable[[str], dict] = lambda p: {"preset": p}
    extra: tuple = ()
    crf_max: int = 51  # the encoder's highest quality number (x264, x265)
    uses_preset: bool = True  # whether --preset changes anything
    # environment the encoder library reads for itself (its own logging, not FFmpeg's)
    environ: tuple = ()
    # options for interlaced sources: field-aware coding, where the encoder has it
    # ("{order}": tff or bff; x264 writes the order it was opened with into the stream's headers)
    interlaced: tuple = ()
    # a codec films are delivered in (x264, x265, AV1, VP9): 8-bit 4:2:0 is what every player plays
    delivery: bool = False
    # options for writing an alpha plane, where the encoder needs some (ProRes: the 4444 profile)
    alpha: tuple = ()

    def options(self, crf: int, preset: str) -> dict:
        """FFmpeg options for quality ``crf`` and x264-style speed ``preset``."""
        opts = dict(self.extra)
        if self.crf_option:
            opts[self.crf_option] = str(crf)
        opts.update(self.preset(preset))
        return opts


PRESETS_SVT = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 6,
               "slow": 4, "slower": 3, "veryslow": 2, "placebo": 1}
CODECS = {
    "libx264": CodecPreset("libx264", interlaced=(("flags", "+ildct+ilme"), ("x264-params", "{order}=1")),
                           delivery=True),
    "libx265": CodecPreset("libx265", extra=(("x265-params", "log-level=error"),), delivery=True),
    # SVT-AV1 prints ~40 "Svt[info]" lines of its own on stderr unless SVT_LOG says errors only
    "libsvtav1": CodecPreset("libsvtav1", preset=lambda p: {"preset": str(PRESETS_SVT.get(p, 6))}, crf_max=63,
                             environ=(("SVT_LOG", "1"),), delivery=True),
    "libvpx-vp9": CodecPreset("libvpx-vp9", preset=lambda p: {"deadline": "good", "cpu-used": "2"},
                              extra=(("b", "0"),), crf_max=63, uses_preset=False, delivery=True),
    "prores": CodecPreset("prores_ks", crf_option=None, preset=lambda p: {}, extra=(("profile", "3"),),
                          uses_preset=False, interlaced=(("flags", "+ildct"),), alpha=(("profile", "4"),)),
    "ffv1": CodecPreset("ffv1", crf_option=None, preset=lambda p: {}, extra=(("level", "3"),),
                        uses_preset=False),
}
X264_PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"]

# AVColorSpace numbers (libavutil/pixfmt.h) and the matrices we use for them
SPACE_BT709, SPACE_UNSPECIFIED, SPACE_BT470BG, SPACE_SMPTE170M, SPACE_BT2020 = 1, 2, 5, 6, 9
MATRIX_OF_SPACE = {SPACE_BT709: "bt709", SPACE_BT470BG: "bt601", SPACE_SMPTE170M: "bt601",
                   SPACE_BT2020: "bt2020", 10: "bt2020"}
RANGE_MPEG, RANGE_JPEG = 1, 2  # AVColorRange: limited ("tv"), full ("pc")
AUDIO_FALLBACKS = ("aac", "libopus", "libmp3lame", "flac")



def choose_pixel_format(codec: str, in_format: str, width: int, height: int, asked: str | None = None) -> str:
    """The planar YUV format to encode in: ``asked`` (--pix-fmt) if the encoder
    takes it; else the source's bit depth and chroma subsampling where the
    encoder takes them, or the nearest it does, except that an 8-bit RGB source
    goes to 4:2:0 in a delivery codec (what players play; see rgb_as_420).

    An odd width or height rules out formats that halve chroma that way.
    """
    encoder = av.codec.Codec(CODECS[codec].encoder, "w")
    src_bits, sx, sy, _ = PLANAR[planar_equivalent(in_format)]
    formats = [
        f.name for f in encoder.video_formats or []
        if f.name in OUTPUT_FORMATS and not (width % 2 and PLANAR[f.name][1]) and not (height % 2 and PLANAR[f.name][2])
    ]
    if asked is not None:
        if asked not in formats:
            raise OutputError(f"--pix-fmt {asked}: {codec} cannot encode {width}x{height} in it; "
                              f"it takes {', '.join(sorted(formats)) or 'none filmcolor writes'}")
        return asked
    if not formats:
        raise OutputError(
            f"{codec} cannot encode {width}x{height} in a YUV format filmcolor writes "
            "(odd sizes need 4:4:4: try --codec libx264 or ffv1)"
        )
    if rgb_as_420(codec, in_format) and "yuv420p" in formats:
        return "yuv420p"

    def rank(name: str) -> tuple:
        bits, fx, fy, _ = PLANAR[name]
        return (bits == src_bits, bits >= src_bits, (fx, fy) == (sx, sy), (fx, fy) == (1, 1), -bits)

    return max(formats, key=rank)


def rgb_as_420(codec: str, in_format: str) -> bool:
    """Whether an 8-bit RGB (or paletted) source is written 4:2:0 rather than
    4:4:4: in a delivery codec, 4:4:4 H.264 (High 4:4:4 Predictive) will not play
    in many players and browsers, and it would hold no more colour, which comes
    from a small network and is upsampled anyway."""
    if not CODECS[codec].delivery or in_format in PLANAR:
        return False
    fmt = av.VideoFormat(in_format, 64, 64)
    return (fmt.is_rgb or in_format.startswith("pal")) and source_bits(in_format) <= 8


def color_matrix(colorspace: int, height: int) -> tuple[str, int]:
    """(matrix name for ``color.rgb_to_chroma``, AVColorSpace tag to write).

    Untagged video gets what players assume: BT.709 for HD, BT.601 for SD;
    the output is then tagged so that nobody has to guess again.
    """
    if colorspace in MATRIX_OF_SPACE:
        return MATRIX_OF_SPACE[colorspace], colorspace
    if height >= 720:
        return "bt709", SPACE_BT709
    return "bt601", SPACE_SMPTE170M


def describe(stream: av.stream.Stream) -> str:
    name = stream.codec_context.name if stream.codec_context else (getattr(stream, "name", None) or "unknown")
    return f"#{stream.index} {stream.type} ({name})"


def container_takes(fmt: str, add: Callable[[av.container.OutputContainer], None]) -> bool:
    """Whether an output of format ``fmt`` accepts the stream ``add`` creates: writes a header in memory."""
    try:
        with av.open(io.BytesIO(), "w", format=fmt) as probe:
            add(probe)
            probe.start_encoding()
        return True
    except av.FFmpegError:
        return False
    except ValueError as e:  # PyAV's own refusal; any other ValueError is a bug to show
        if "does not support" in str(e):
            return False
        raise


def plane_view(plane, dtype, width: int, height: int) -> np.ndarray:
    """A (height, width) numpy view of a frame plane (line padding cut off)."""
    itemsize = np.dtype(dtype).itemsize
    return np.frombuffer(plane, dtype).reshape(-1, plane.line_size // itemsize)[:height, :width]


def ffmpeg_writes(path: Path) -> bool:
    """Whether FFmpeg knows a film format for ``path``'s name (tried in memory)."""
    if format_for(path):
        return True
    probe = io.BytesIO()
    probe.name = path.name  # PyAV guesses the muxer from a file object's name
    try:
        with av.open(probe, "w"):
            return True
    except (ValueError, av.FFmpegError):
        return False


def format_for(path: Path) -> str | None:
    """FFmpeg's muxer for a file name, or None to let FFmpeg guess from the suffix."""
    return {".mkv": "matroska", ".mov": "mov", ".mp4": "mp4", ".webm": "webm", ".avi": "avi"}.get(path.suffix.lower())


