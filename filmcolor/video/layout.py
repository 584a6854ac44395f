"""Planning the output: the video's pixel format, colour matrix and field
order, and what happens to every other stream of the source (copied,
re-encoded, or refused), before any frame is decoded."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av

from ..encoding import (
    AUDIO_FALLBACKS,
    CODECS,
    PLANAR,
    RANGE_JPEG,
    RANGE_MPEG,
    alpha_format,
    choose_pixel_format,
    color_matrix,
    container_takes,
    describe,
    planar_equivalent,
    rgb_as_420,
    source_bits,
    with_alpha,
)
from ..errors import OutputError
from .options import VideoOptions
from .source import FIELD_CODES, FIELD_PROGRESSIVE, Source, check_steady_rate
from .streams import dropped, not_content, refusal

# AVColorTransferCharacteristic and AVColorSpace numbers (libavutil/pixfmt.h)
HDR_TRANSFERS = {16: "PQ, SMPTE 2084", 18: "HLG, ARIB STD-B67"}
SPACE_BT2020_CL = 10
# "tb"/"bt" (4, 5) are coded one way and shown the other: the shown order is kept
FIELD_ORDERS = {2: "tff", 3: "bff", 4: "tff", 5: "bff"}
FIELD_NAMES = {"tff": "top field first", "bff": "bottom field first"}


@dataclass
class OutputPlan:
    """How the output is written, and what planning it found worth saying."""

    out_format: str  # the encoder's pixel format
    matrix: str  # the YUV<->RGB matrix the colour stage uses
    out_space: int  # AVColorSpace written into the stream
    in_full_range: bool  # the source's luma is 0-255 (JPEG range), not 16-235
    fields: str | None  # tff/bff, kept in the output; None: progressive
    copy: list = field(default_factory=list)  # source streams copied packet by packet
    reencode: dict[int, str] = field(default_factory=dict)  # source stream index -> audio encoder
    video_only: bool = False  # a segment: no other stream, no tags
    alpha: bool = False  # the source's alpha plane is written too (out_format with alpha)
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_output(source: Source, opts: VideoOptions, fmt_name: str, suffix: str, video_only: bool) -> OutputPlan:
    """The plan for writing ``source`` into a container of format ``fmt_name``
    (FFmpeg's name; ``suffix`` for messages). ``video_only``: the other streams
    are left out (a segment). OutputError where the container cannot hold a stream."""
    notices: list[str] = []
    warnings: list[str] = []
    cc = source.vin.codec_context
    src_bits, sx, sy, full = PLANAR[planar_equivalent(source.in_format)]
    in_bits = source_bits(source.in_format)
    if in_bits > src_bits:
        notices.append(f"source is {in_bits}-bit ({source.in_format}): kept at {src_bits} bits, the most filmcolor writes")
    out_format = choose_pixel_format(opts.codec, source.in_format, source.width, source.height, opts.pix_fmt)
    alpha = _alpha(source)
    keeps = alpha == "planes" and alpha_format(opts.codec, out_format) is not None
    if opts.pix_fmt is None and out_format == "yuv420p" and rgb_as_420(opts.codec, source.in_format):
        notices.append(f"source is {source.in_format}: written as yuv420p, which every player plays (the colour "
                       "comes from a small network, so 4:4:4 would hold no more of it); --pix-fmt yuv444p keeps 4:4:4")
    elif PLANAR[out_format][:3] != (src_bits, sx, sy):
        written = with_alpha(out_format) if keeps else out_format
        notices.append(f"{opts.codec}: written as {written} (source {source.in_format})")
    matrix, out_space = color_matrix(cc.colorspace, source.height)
    hdr = HDR_TRANSFERS.get(cc.color_trc)
    if hdr:
        warnings.append(f"source is HDR ({hdr}): filmcolor reads its brightness as SDR, so the colour will be off; "
                        "tone-map it to SDR first")
    if cc.colorspace == SPACE_BT2020_CL:
        warnings.append("source uses BT.2020 constant luminance, which filmcolor writes as non-constant: "
                        "colour will be off")
    if fmt_name == "avi":
        check_steady_rate(source)
    if keeps:
        notices.append("the source's alpha channel (transparency) is kept")
    elif alpha:
        way = "; --codec prores or ffv1 keep it" if alpha == "planes" else ""
        warnings.append(f"source has an alpha channel (transparency), which filmcolor does not keep with "
                        f"{opts.codec if alpha == 'planes' else 'VP9 sources'}: the output is opaque{way}")
    fields = None if opts.deinterlace else FIELD_ORDERS.get(source.field_order())
    if fields and not CODECS[opts.codec].interlaced:
        notices.append(f"{opts.codec} has no interlaced coding: the fields are kept, "
                       f"woven in each frame, and marked {FIELD_NAMES[fields]}")
    plan = OutputPlan(out_format, matrix, out_space, full or cc.color_range == RANGE_JPEG, fields,
                      video_only=video_only, alpha=keeps, notices=notices, warnings=warnings)
    where = f".{suffix.lstrip('.')}"
    if not container_takes(fmt_name, lambda c: add_video(c, source, plan, opts)):
        raise OutputError(f"{opts.codec} video cannot go into {where} (try .mkv, which holds every codec filmcolor writes)")
    if not video_only:
        _plan_other_streams(source, plan, opts, fmt_name, where)
    return plan


def _alpha(source: Source) -> str | None:
    """How the film carries transparency: "planes" (a pixel format with alpha: ProRes
    4444, QuickTime Animation, WebM's VP9 through libvpx: source._alpha_decoder),
    "vp9" (WebM's VP9 alpha where libvpx cannot decode it: not 8-bit 4:2:0, or
    not in this FFmpeg), or None."""
    if any(c.is_alpha for c in av.VideoFormat(source.in_format, 64, 64).components):
        return "planes"
    if source.vin.metadata.get("alpha_mode", source.vin.metadata.get("ALPHA_MODE")) == "1":
        return "vp9"
    return None


def _plan_other_streams(source: Source, plan: OutputPlan, opts: VideoOptions, fmt_name: str, where: str) -> None:
    drop = dropped(source.container, source.vin, opts.drop)
    for s in source.container.streams:
        if s is source.vin or (s.type == "data" and s.metadata.get("timecode")):
            continue  # the film itself; a timecode track, written as the video's timecode (source.py)
        if s.index in drop:
            plan.notices.append(f"{describe(s)} dropped (--drop)")
            continue
        why = not_content(source.container, s)
        if why:
            plan.notices.append(f"{describe(s)} dropped: {why}")
            continue
        if s.type == "video" and s.disposition & av.stream.Disposition.attached_pic:
            plan.notices.append(f"{describe(s)} is cover art: copied as it is")
        elif s.type == "video":
            plan.notices.append(f"{describe(s)} copied untouched (only the first video stream is colorized)")
        if container_takes(fmt_name, lambda c, s=s: c.add_stream_from_template(s)):
            plan.copy.append(s)
            if fmt_name == "mp4" and s.type == "audio" and s.codec_context.name.startswith("pcm_"):
                plan.warnings.append(
                    f"{describe(s)} goes into .mp4 as an ISO 'ipcm' track, which older players cannot "
                    "play or read as 16-bit; .mov or .mkv hold PCM everywhere")
            continue
        if s.type == "audio":
            for enc in AUDIO_FALLBACKS:
                if container_takes(fmt_name, lambda c, s=s, enc=enc: add_audio(c, s, enc)):
                    plan.reencode[s.index] = enc
                    break
        if s.index not in plan.reencode:
            raise refusal(s, where, fmt_name != "matroska" and container_takes(
                "matroska", lambda c, s=s: c.add_stream_from_template(s)))


def add_video(out: av.container.OutputContainer, source: Source, plan: OutputPlan,
              opts: VideoOptions) -> av.stream.Stream:
    """The encoded video stream of the output, set up as ``plan`` says."""
    preset = CODECS[opts.codec]
    options = preset.options(opts.crf, opts.preset)
    if plan.fields:
        options.update((name, value.format(order=plan.fields)) for name, value in preset.interlaced)
    if plan.alpha:
        options.update(preset.alpha)
    if out.format.name == "avi":
        options["bf"] = "0"  # AVI keeps no presentation times: reordered frames would read back shifted
    for name, value in preset.environ:
        os.environ.setdefault(name, value)  # a user's own setting wins
    vin = source.vin
    stream = out.add_stream(preset.encoder, rate=source.rate, options=options)
    stream.width, stream.height = source.width, source.height
    stream.pix_fmt = with_alpha(plan.out_format) if plan.alpha else plan.out_format
    stream.time_base = 1 / source.rate if out.format.name == "avi" else vin.time_base  # AVI: one tick a frame
    cc = stream.codec_context
    cc.time_base = vin.time_base
    cc.framerate = source.rate
    cc.colorspace = plan.out_space
    cc.color_range = RANGE_JPEG if plan.in_full_range else RANGE_MPEG
    cc.color_primaries = vin.codec_context.color_primaries
    cc.color_trc = vin.codec_context.color_trc
    sar = vin.codec_context.sample_aspect_ratio
    if sar:
        cc.sample_aspect_ratio = sar
    cc.field_order = FIELD_CODES[plan.fields] if plan.fields else FIELD_PROGRESSIVE
    if source.timecode:
        stream.metadata["timecode"] = source.timecode
    return stream


def add_audio(out: av.container.OutputContainer, s: av.stream.Stream, encoder: str) -> av.stream.Stream:
    stream = out.add_stream(encoder, rate=s.codec_context.sample_rate)
    stream.layout = s.codec_context.layout
    return stream
