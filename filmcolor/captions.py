"""What a photo's file says about it beyond pixels, EXIF and DPI, carried to the
colorized file where its format can hold it: XMP, IPTC, JPEG comments, PNG
text chunks, PNG gamma and chromaticity; and the ICC profile made to fit a
colour picture. What a format cannot hold is said (see :func:`lost`)."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageCms, PngImagePlugin

XMP_KEY = "XML:com.adobe.xmp"  # how PNG holds XMP (an iTXt chunk)
_PHOTOSHOP = b"Photoshop 3.0\x00"  # JPEG APP13, which holds IPTC


@dataclass
class Captions:
    xmp: bytes | None = None
    comment: bytes | None = None  # a JPEG COM segment
    iptc: bytes | None = None  # a JPEG APP13 (Photoshop) block, IPTC inside, as it was
    text: dict[str, str] = field(default_factory=dict)  # PNG tEXt/zTXt/iTXt chunks
    gamma: float | None = None  # PNG gAMA
    chromaticity: tuple[float, ...] | None = None  # PNG cHRM: white x, y, red x, y, green x, y, blue x, y

    def __bool__(self) -> bool:
        return any((self.xmp, self.comment, self.iptc, self.text, self.gamma, self.chromaticity))


def read(im: Image.Image) -> Captions:
    """The captions of an open Pillow picture (its header; no pixels decoded)."""
    info = im.info
    xmp = info.get("xmp")
    # the header's text chunks (Pillow's im.text would decode the whole picture to find later ones)
    text = {k: str(v) for k, v in info.items() if isinstance(v, str) and k != XMP_KEY} if im.format == "PNG" else {}
    if im.format == "PNG" and xmp is None and isinstance(info.get(XMP_KEY), str):
        xmp = info[XMP_KEY]
    if isinstance(xmp, str):
        xmp = xmp.encode()
    iptc = next((data for marker, data in getattr(im, "applist", []) if marker == "APP13"
                 and data.startswith(_PHOTOSHOP)), None)
    comment = info.get("comment") if im.format == "JPEG" else None
    return Captions(xmp=xmp, comment=comment, iptc=iptc, text=text, gamma=info.get("gamma"),
                    chromaticity=info.get("chromaticity"))


def save_options(c: Captions, fmt: str) -> dict:
    """Pillow save() options that carry ``c`` into ``fmt`` (8-bit pictures)."""
    opts: dict = {}
    if c.xmp and fmt in ("JPEG", "WEBP", "TIFF"):
        opts["xmp"] = c.xmp
    if fmt == "JPEG" and c.comment:
        opts["comment"] = c.comment
    if fmt == "PNG" and (c.text or c.xmp or c.comment):
        info = PngImagePlugin.PngInfo()
        for key, value in _png_text(c).items():
            info.add_itxt(key, value)
        opts["pnginfo"] = info
    return opts


def _png_text(c: Captions) -> dict[str, str]:
    text = dict(c.text)
    if c.xmp:
        text[XMP_KEY] = c.xmp.decode("utf-8", "replace")
    if c.comment and "Comment" not in text:
        text["Comment"] = c.comment.decode("utf-8", "replace")
    return text


def finish(data: bytes, fmt: str, c: Captions, sixteen_bit: bool) -> bytes:
    """The written file's bytes with what its writer could not put in: IPTC into a
    JPEG; gamma, chromaticity (and, for OpenCV's 16-bit PNG, the text) into a PNG."""
    if fmt == "JPEG" and c.iptc:
        segment = b"\xff\xed" + struct.pack(">H", len(c.iptc) + 2) + c.iptc
        return data[:2] + segment + data[2:]  # after SOI: any order of APPn segments is valid
    if fmt == "PNG":
        chunks = []
        if c.gamma:
            chunks.append(_chunk(b"gAMA", struct.pack(">I", round(c.gamma * 100_000))))
        if c.chromaticity:
            chunks.append(_chunk(b"cHRM", struct.pack(">8I", *(round(v * 100_000) for v in c.chromaticity))))
        if sixteen_bit:
            chunks += [_chunk(b"iTXt", k.encode("latin-1", "replace") + b"\x00\x00\x00\x00\x00" + v.encode())
                       for k, v in _png_text(c).items()]
        return data[:33] + b"".join(chunks) + data[33:]  # after the header chunk, before the pixels
    return data


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def lost(c: Captions, fmt: str, sixteen_bit: bool) -> list[str]:
    """What of ``c`` a ``fmt`` file (16-bit: OpenCV's writer) does not get."""
    gone = []
    if c.xmp and (fmt not in ("JPEG", "WEBP", "TIFF", "PNG") or (sixteen_bit and fmt == "TIFF")):
        gone.append("XMP")
    if c.iptc and fmt != "JPEG":
        gone.append("IPTC")
    if c.comment and fmt not in ("JPEG", "PNG"):
        gone.append("comment")
    if c.text and fmt != "PNG":
        gone.append("PNG text (" + ", ".join(c.text) + ")")
    if (c.gamma or c.chromaticity) and fmt != "PNG":
        gone.append("PNG gamma/chromaticity")
    return gone


def fit_icc(icc: bytes | None, colour: bool) -> tuple[bytes | None, str | None]:
    """An ICC profile a colour picture can carry: a Gray or CMYK profile (a grey or
    CMYK scan's) describes no RGB and colour-managed software would refuse it, so
    the output gets sRGB's, which is what it is. (profile, what was done or None)."""
    if not icc or not colour:
        return icc, None
    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (OSError, ImageCms.PyCMSError):
        return None, "its ICC profile cannot be read: written without one"
    if space == "RGB":
        return icc, None
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return srgb, f"its {space} ICC profile does not describe a colour picture: written with an sRGB profile"


