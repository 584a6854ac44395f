"""Still pictures: reading and writing them faithfully, and colorizing files.

Pixels come through OpenCV (16-bit PNG and TIFF, alpha) except JPEG, which
Pillow decodes because it reports a truncated file where OpenCV quietly
returns a half-grey picture. Pillow also reads the header first, so a picture
too large for memory is refused before any pixel is decoded, and it carries
EXIF and ICC metadata to the output where the format can hold them.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
import threading
import traceback
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from . import captions, color
from .captions import Captions
from .errors import FilmcolorError, InputError, OutputError
from .files import atomic_output

if TYPE_CHECKING:
    from .colorizer import Colorizer
    from .modelspec import ModelSpec
    from .reference import Reference

_PILLOW_GUARD = threading.Lock()


def _open_unguarded(path: Path) -> Image.Image:
    """``Image.open`` with Pillow's decompression-bomb guard off for this one
    call: filmcolor checks the header against its own, settable limit
    (``--max-megapixels``) right after. The guard stays on for everyone else
    who imports Pillow in the same process."""
    with _PILLOW_GUARD:
        kept, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = kept

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".tif": "TIFF",
           ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP", ".tga": "TGA", ".jp2": "JPEG2000", ".j2k": "JPEG2000",
           ".ppm": "PPM", ".pgm": "PPM", ".pnm": "PPM", ".avif": "AVIF"}
# decoded by Pillow (OpenCV reads none of TGA and AVIF, and JPEG: see the module's docstring)
PILLOW_DECODES = {"JPEG", "TGA", "JPEG2000", "PPM", "AVIF"}
# kinds of picture a folder may hold that filmcolor does not read: counted and named, with the way out
UNREAD = {".gif": "GIF", ".heic": "HEIC", ".heif": "HEIF", ".jxl": "JPEG XL", ".psd": "Photoshop",
          ".dng": "camera raw", ".cr2": "camera raw", ".nef": "camera raw", ".arw": "camera raw",
          ".svg": "SVG", ".ico": "icon", ".pdf": "PDF"}
SIXTEEN_BIT = {"PNG", "TIFF"}
EXIF_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
DPI_FORMATS = {"JPEG", "PNG", "TIFF", "BMP"}
ICC_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
OUTPUT_TAGS = ("_color", "_compare")
FILM_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".mpg", ".mpeg", ".vob", ".mxf"}
_ORIENTATION = 0x0112
# A TIFF's first directory mixes what the file says about the picture with its own
# layout (strips, sizes, compression); only the former may travel to a new file.
_TIFF_DESCRIPTIVE = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)  # description .. copyright


@dataclass
class Picture:
    """Pixels with what the file said about them.

    pixels: (H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4)
    RGBA; uint8 or uint16; upright (EXIF orientation already applied).
    """

    pixels: np.ndarray
    format: str  # Pillow's format name: JPEG, PNG, TIFF, WEBP, BMP
    exif: bytes | None = None  # with orientation reset to 1
    icc: bytes | None = None
    dpi: tuple[float, float] | None = None  # scanning resolution, where the file gave one
    captions: Captions = field(default_factory=Captions)  # XMP, IPTC, comments, PNG text and gamma


def read_reference(path: str | os.PathLike, max_megapixels: float = 250.0) -> np.ndarray:
    """A reference photo's RGB pixels (H, W, 3|4), uint8 or uint16; InputError
    naming it when it cannot be read or is grey."""
    try:
        pixels = read_picture(path, max_megapixels).pixels
    except InputError as e:
        raise InputError(f"reference {path}: {e}") from None
    if pixels.ndim == 2 or pixels.shape[2] == 2:
        raise InputError(f"reference {path}: has no colour to give (it is grey)")
    return pixels


def read_picture(path: str | os.PathLike, max_megapixels: float = 250.0) -> Picture:
    """Read a picture file; raise InputError with a one-line reason if it can't be used."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file")
    if not path.is_file():
        raise InputError("not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _open_unguarded(path) as im:
                fmt = im.format
                w, h = im.size
                pages = getattr(im, "n_frames", 1)
                if pages > 1:
                    raise InputError(f"has {pages} pages or frames; filmcolor colorizes one picture a file "
                                     "(split it first, e.g. one TIFF per page)")
                if max(w, h) >= color.SHRT_MAX or max(w, h) >= 255 * min(w, h):
                    raise InputError(
                        f"{w}x{h} is too long a picture for filmcolor: OpenCV resizes at most {color.SHRT_MAX - 1} "
                        "pixels a side, and at most 255:1 at the network's size; cut it into pieces first")
                if w * h > max_megapixels * 1e6:
                    raise InputError(
                        f"{w}x{h} is {w * h / 1e6:.3g} megapixels, above the limit of {max_megapixels:g} "
                        "(raise it with --max-megapixels if the machine has the memory: about 8 bytes a pixel)"
                    )
                # Pillow's getexif() decodes a whole PNG to look for a late eXIf chunk: read what the header has
                exif_tags = Image.Exif()
                if fmt == "PNG":
                    if im.info.get("exif"):
                        exif_tags.load(im.info["exif"])
                else:
                    exif_tags = im.getexif()
                icc = im.info.get("icc_profile")
                dpi = _dpi(im.info.get("dpi"))
                caps = captions.read(im)
                pixels = _decode_pillow(im) if fmt in PILLOW_DECODES else None
    except UnidentifiedImageError:
        raise InputError("not a picture filmcolor can read") from None
    except OSError as e:
        raise InputError(f"cannot read: {e}") from None
    if fmt not in FORMATS.values():
        raise InputError(f"{fmt} pictures are not supported (use JPEG, PNG, TIFF, WebP, BMP, TGA, JPEG 2000, "
                         "PPM or AVIF)")
    if pixels is None:
        pixels = _decode_cv2(path)
    orientation = exif_tags.get(_ORIENTATION, 1)
    pixels = _upright(pixels, orientation)
    if orientation in (5, 6, 7, 8) and dpi is not None:
        dpi = (dpi[1], dpi[0])
    exif = None
    if fmt == "TIFF":
        exif_tags = _descriptive(exif_tags)
    if fmt in EXIF_FORMATS and len(exif_tags):
        if _ORIENTATION in exif_tags:
            exif_tags[_ORIENTATION] = 1
        exif = exif_tags.tobytes()
    return Picture(pixels=pixels, format=fmt, exif=exif, icc=icc, dpi=dpi, captions=caps)


def _dpi(value: object) -> tuple[float, float] | None:
    """Pillow's ``info["dpi"]`` as two positive numbers, or None (absent, zero or garbled)."""
    try:
        x, y = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _descriptive(tags: Image.Exif) -> Image.Exif:
    """The tags of a TIFF's first directory that describe the picture (make,
    model, date, artist, copyright...), without those that describe its layout."""
    kept = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE:
        if tag in tags:
            kept[tag] = tags[tag]
    return kept


def _decode_pillow(im: Image.Image) -> np.ndarray:
    """(H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; uint8, or uint16 for 16-bit grey."""
    try:
        im.load()
    except OSError as e:
        raise InputError(f"truncated or corrupt {im.format} ({e})") from None
    if im.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im).astype(np.uint16)
    if im.mode not in ("L", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
    return np.asarray(im)


def _decode_cv2(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    with _c_stderr_caught() as said:
        pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if pixels is None:
        why = said[0].strip().splitlines()[-1:] if said else []
        raise InputError("truncated or corrupt picture" + (f" ({why[0]})" if why else ""))
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{pixels.dtype} samples are not supported (8- or 16-bit only)")
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA)
    return pixels


_STDERR = threading.Lock()


@contextlib.contextmanager
def _c_stderr_caught() -> Iterator[list[str]]:
    """Catch what C libraries print on file descriptor 2 inside the block (libpng
    prints "libpng error: ..." there itself, ahead of filmcolor's own message);
    the text is in the yielded list afterwards, for the error to quote."""
    said: list[str] = []
    with _STDERR, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            kept = os.dup(2)
        except (OSError, ValueError):  # no real descriptor 2 (embedded interpreters)
            yield said
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(kept, 2)
            os.close(kept)
            sink.seek(0)
            said.append(sink.read().decode(errors="replace"))


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to the pixels."""
    ops = {
        2: lambda p: p[:, ::-1],
        3: lambda p: p[::-1, ::-1],
        4: lambda p: p[::-1],
        5: lambda p: p.swapaxes(0, 1),
        6: lambda p: p.swapaxes(0, 1)[:, ::-1],
        7: lambda p: p.swapaxes(0, 1)[::-1, ::-1],
        8: lambda p: p.swapaxes(0, 1)[::-1],
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op else pixels


def write_picture(path: str | os.PathLike, pic: Picture) -> list[str]:
    """Write ``pic`` in the format its suffix names, through a temporary file that is
    renamed at the end, so an interrupted run leaves no truncated picture.

    16-bit pixels go out as 16-bit in PNG and TIFF (with their DPI, but without
    EXIF/ICC: OpenCV writes them and cannot) and are reduced to 8 bits for other
    formats. A TIFF output carries only the descriptive tags of any EXIF.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"unknown picture format {path.suffix!r}")
    if not path.parent.is_dir():
        raise OutputError(f"output folder {path.parent} does not exist")
    pixels = pic.pixels
    if pixels.dtype == np.uint16 and fmt not in SIXTEEN_BIT:
        pixels = (pixels // 257).astype(np.uint8)
    if fmt in ("JPEG", "PPM") and pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]  # JPEG and PPM hold no alpha
    colour = pixels.ndim == 3 and pixels.shape[2] >= 3
    icc, icc_said = captions.fit_icc(pic.icc, colour)
    pic = replace(pic, icc=icc)
    try:
        with atomic_output(path) as tmp:
            _write_pixels(tmp, path, pic, fmt, pixels)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    sixteen = pixels.dtype == np.uint16
    said = [icc_said] if icc_said else []
    gone = captions.lost(pic.captions, fmt, sixteen)
    if sixteen and fmt == "TIFF" and pic.exif:
        gone.append("caption, artist, copyright and date (OpenCV writes 16-bit TIFF without them)")
    if gone:
        said.append(f"{'16-bit ' if sixteen else ''}{fmt} output cannot hold the source's {'; '.join(gone)}: not kept")
    return said


def _write_pixels(tmp: str, path: Path, pic: Picture, fmt: str, pixels: np.ndarray) -> None:
    """Encode ``pixels`` as ``fmt`` into the file ``tmp`` with what ``pic`` carries."""
    if pixels.dtype == np.uint16:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        params = []
        if pic.dpi and fmt == "TIFF":
            params = [cv2.IMWRITE_TIFF_RESUNIT, 2, cv2.IMWRITE_TIFF_XDPI, round(pic.dpi[0]),
                      cv2.IMWRITE_TIFF_YDPI, round(pic.dpi[1])]
        ok, buf = cv2.imencode(path.suffix, bgr, params)
        if not ok:
            raise OutputError(f"OpenCV cannot encode 16-bit {fmt}")
        data = buf.tobytes()
        if pic.dpi and fmt == "PNG":
            data = _with_png_dpi(data, pic.dpi)
        Path(tmp).write_bytes(captions.finish(data, fmt, pic.captions, sixteen_bit=True))
    else:
        opts = {}
        if pic.exif and fmt in EXIF_FORMATS:
            opts["exif"] = pic.exif
            if fmt == "TIFF" and pic.format != "TIFF":
                tags = Image.Exif()
                tags.load(pic.exif)
                opts["exif"] = _descriptive(tags).tobytes()
        if pic.dpi and fmt in DPI_FORMATS:
            opts["dpi"] = pic.dpi
        if pic.icc and fmt in ICC_FORMATS:
            opts["icc_profile"] = pic.icc
        if fmt in ("JPEG", "WEBP"):
            opts["quality"] = 95
        opts.update(captions.save_options(pic.captions, fmt))
        Image.fromarray(pixels).save(tmp, format=fmt, **opts)
        if fmt in ("JPEG", "PNG") and pic.captions:
            Path(tmp).write_bytes(captions.finish(Path(tmp).read_bytes(), fmt, pic.captions, sixteen_bit=False))


def _with_png_dpi(png: bytes, dpi: tuple[float, float]) -> bytes:
    """``png`` with a pHYs chunk (pixels per metre) after its header: OpenCV's
    16-bit PNG writer has no resolution option. The header chunk is always first
    and 25 bytes long, after the 8-byte signature."""
    body = b"pHYs" + struct.pack(">IIB", round(dpi[0] / 0.0254), round(dpi[1] / 0.0254), 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    return png[:33] + chunk + png[33:]


def grey_rgb(pixels: np.ndarray) -> np.ndarray:
    """The lightness of a picture as a grey RGB picture, same dtype: what the network sees."""
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        pixels = pixels[..., :-1]
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    peak = float(np.iinfo(pixels.dtype).max)
    lab = cv2.cvtColor(pixels.astype(np.float32) / peak, cv2.COLOR_RGB2LAB)
    lab[..., 1:] = 0
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * peak + 0.5, 0, peak).astype(pixels.dtype)


def side_by_side(pixels: np.ndarray, colored: np.ndarray) -> np.ndarray:
    """grey | colour, (H, 2W, 3), from the input picture and its colour version."""
    return np.concatenate([grey_rgb(pixels), colored[..., :3]], axis=1)


# ------------------------------------------------------------------ batches


@dataclass
class Job:
    """One input and where its result goes; ``error`` set when known at planning."""

    src: Path
    dst: Path | None = None
    error: str | None = None


@dataclass
class ImageOptions:
    compare: bool = False
    max_megapixels: float = 250.0
    reference: Reference | None = None  # a colour photo to steer the colour toward (Colorizer.reference)
    debug: bool = False  # a failed file's result carries its traceback


def _is_own_output(p: Path) -> bool:
    """x_color.jpg beside x.jpg: filmcolor's earlier result, not a new input."""
    for tag in OUTPUT_TAGS:
        if p.stem.endswith(tag) and any(
            p.with_name(p.stem[: -len(tag)] + s).exists() for s in (p.suffix, p.suffix.lower(), p.suffix.upper())
        ):
            return True
    return False


def expand_inputs(inputs: list[str | os.PathLike], recursive: bool = False,
                  skipped: list[Path] | None = None, unread: list[Path] | None = None
                  ) -> list[tuple[Path, Path | None]]:
    """Files and folders -> (file, the folder it was found in or None), in order.

    Folders yield their pictures (sub-folders too with ``recursive``), skipping
    filmcolor's own earlier results (appended to ``skipped`` when given) and
    pictures of kinds it does not read (appended to ``unread``).
    Paths that don't exist are kept, to be reported as failures.
    """
    found: list[tuple[Path, Path | None]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            walk = item.rglob("*") if recursive else item.iterdir()
            files = sorted(p for p in walk if p.is_file() and not p.name.startswith("."))
            if unread is not None:
                unread += [p for p in files if p.suffix.lower() in UNREAD]
            for p in (p for p in files if p.suffix.lower() in FORMATS):
                if not _is_own_output(p):
                    found.append((p, item))
                elif skipped is not None:
                    skipped.append(p)
        else:
            found.append((item, None))
    return found


def plan_jobs(inputs: list[str | os.PathLike], output: str | os.PathLike | None, recursive: bool = False,
              skipped: list[Path] | None = None, unread: list[Path] | None = None) -> list[Job]:
    """Decide where each result goes.

    One input file and ``output`` with a picture suffix: the output is that
    file; a folder (existing, or a name without suffix) gets a file of the
    input's name inside it. Otherwise ``output`` is a folder:
    results keep their file names (and their sub-folder under a folder input).
    Without ``output``: ``<stem>_color<suffix>`` beside the input. An output
    that would overwrite an input, or another output, is an error of that job.
    """
    found = expand_inputs(inputs, recursive, skipped, unread)
    single = len(found) == 1 and found[0][1] is None
    out = Path(output) if output is not None else None
    if out is not None and not single and not out.is_dir() and out.suffix.lower() in FORMATS:
        raise OutputError(f"-o {out} names one picture, but there are {len(found)} inputs: give a folder")
    jobs: list[Job] = []
    for src, root in found:
        if out is None:
            dst = src.with_name(f"{src.stem}_color{src.suffix}")
        elif single and not out.is_dir() and out.suffix:
            dst = out
        else:
            dst = out / (src.relative_to(root) if root is not None else src.name)
        jobs.append(Job(src, dst))
    sources = {_key(j.src) for j in jobs}
    seen: set = set()
    for job in jobs:
        key = _key(job.dst)
        kind = job.src.suffix.lower()
        if not job.src.exists():
            job.error = "no such file"
        elif kind in FILM_SUFFIXES:
            job.error = "this is a film: use `filmcolor video IN OUT`"
        elif kind in UNREAD:
            job.error = unread_reason(job.src)
        elif key in sources:
            job.error = f"output {job.dst} is an input; refusing to overwrite it"
        elif key in seen:
            job.error = f"output {job.dst} would overwrite the result of another input"
        elif job.dst.suffix.lower() not in FORMATS:
            job.error = f"output {job.dst}: unknown picture format {job.dst.suffix!r}"
        elif (folder := _unwritable(job.dst.parent)) is not None:  # said before any picture is colorized
            job.error = f"cannot write in {folder}: permission denied"
        seen.add(key)
    return jobs


def _unwritable(folder: Path) -> Path | None:
    """The folder (or, for one to be made, its nearest existing parent) a new file
    cannot be written in; None when it can."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return None if os.access(folder, os.W_OK | os.X_OK) else folder


def unread_reason(path: Path) -> str:
    """Why a picture of a kind filmcolor does not read is refused, and the way out."""
    kind = UNREAD[path.suffix.lower()]
    if kind == "GIF":
        return "GIF is not supported (its 256 colours cannot hold the result: convert it to PNG)"
    return f"{kind} pictures are not read (convert to TIFF, PNG or JPEG first)"


def _key(p: Path) -> str:
    return os.path.normcase(os.path.realpath(p))


def compare_path(dst: Path) -> Path:
    return dst.with_name(f"{dst.stem}_compare{dst.suffix}")


@dataclass
class JobResult:
    job: Job
    ok: bool
    error: str | None = None
    megapixels: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    trace: str | None = None  # the traceback of the error, with ImageOptions.debug
    warnings: list[str] = field(default_factory=list)  # what of the source's file the output could not keep


def colorize_task(model: ModelSpec, job: Job, opts: ImageOptions, progress=None) -> JobResult:
    """One photo as a runner's task (runners.py), here or in another process or on
    another machine: the model is loaded once per process; ``progress(1)`` when done."""
    result = colorize_file(model.load() if job.error is None else None, job, opts)
    if progress is not None:
        progress(1)
    return result


def colorize_file(colorizer: Colorizer | None, job: Job, opts: ImageOptions) -> JobResult:
    """Colorize one planned job; errors of the file come back in the result.
    ``colorizer`` may be None only for a job refused at planning."""
    if job.error or colorizer is None:
        return JobResult(job, False, job.error or "no colorizer")
    try:
        pic = read_picture(job.src, opts.max_megapixels)
        colored = colorizer.colorize(pic.pixels, opts.reference)
        assert job.dst is not None
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        said = write_picture(job.dst, replace(pic, pixels=colored))
        outputs = [job.dst]
        if opts.compare:
            cmp = compare_path(job.dst)
            write_picture(cmp, replace(pic, pixels=side_by_side(pic.pixels, colored)))
            outputs.append(cmp)
        h, w = pic.pixels.shape[:2]
        return JobResult(job, True, megapixels=h * w / 1e6, outputs=outputs, warnings=said)
    except FilmcolorError as e:
        return _failed(job, str(e), opts)
    except MemoryError:
        return _failed(job, "out of memory (try --max-megapixels lower to refuse such files early)", opts)
    except OSError as e:
        return _failed(job, f"{e.strerror or e}", opts)


def _failed(job: Job, message: str, opts: ImageOptions) -> JobResult:
    """A file's failure; with ``opts.debug`` its traceback too (the batch still goes on)."""
    return JobResult(job, False, message, trace=traceback.format_exc() if opts.debug else None)
