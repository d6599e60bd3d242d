"""Reading evidence photos: what they are, what their EXIF says, and their derivatives.

Uploads are untrusted. :func:`inspect_image` and :func:`ingest` refuse, with a message a
person can act on (:class:`UnsupportedImage`), anything that is not a complete image in an
accepted format, and images with more pixels than ``max_pixels`` (:class:`ImageTooLarge`)
before their pixels are decoded.

Derivatives (``large`` ~1600 px, ``thumb`` 400 px) are what pages and annexes show: EXIF
orientation applied, converted to RGB, and saved as JPEG with no EXIF, XMP or comments --
GPS in an original can locate a source. Only an RGB image's ICC profile is kept, so colours
stay right.

The upload path decodes once: :func:`ingest` checks the header, reads EXIF and writes the
derivatives from a single JPEG decode done at reduced scale (``Image.draft``). That decode
reads the whole entropy-coded stream, so a truncated file is still refused.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageFile, TiffImagePlugin, UnidentifiedImageError

from panel_tracker.evidence.storage import atomic_write

__all__ = [
    "ACCEPTED_MIME_TYPES",
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "EXTENSIONS",
    "FORMAT_LABELS",
    "ImageInfo",
    "ImageTooLarge",
    "MIME_TYPES",
    "UnsupportedImage",
    "inspect_image",
    "ingest",
    "make_derivatives",
]

pillow_heif.register_heif_opener()  # idempotent: registers the "HEIF" plugin with Pillow

#: Pillow format names we accept. "HEIF" covers HEIC (HEVC-coded HEIF, iPhone photos).
ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "HEIF", "TIFF", "WEBP"})
FORMAT_LABELS: dict[str, str] = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "HEIF": "HEIC/HEIF",
    "TIFF": "TIFF",
    "WEBP": "WebP",
}
#: The MIME type recorded for each format (HEIF files that are not HEVC-coded get image/heif).
MIME_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "HEIF": "image/heic",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
}
#: MIME types an upload form may accept (browsers send image/heic or image/heif).
ACCEPTED_MIME_TYPES: frozenset[str] = frozenset(MIME_TYPES.values()) | {"image/heif"}
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "HEIF": (".heic", ".heif"),
    "TIFF": (".tif", ".tiff"),
    "WEBP": (".webp",),
}
DEFAULT_MAX_PIXELS = 60_000_000
DERIVATIVE_QUALITY = 85

_ACCEPTED_LIST = ", ".join(FORMAT_LABELS[f] for f in ("JPEG", "PNG", "HEIF", "TIFF", "WEBP"))
# The only Pillow plugins tried when opening. The JPEG plugin also opens what Pillow calls
# "MPO": a camera JPEG carrying extra pictures (depth map, preview) after the first one.
_PILLOW_FORMATS = ("JPEG", "PNG", "HEIF", "TIFF", "WEBP")
_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}

# Formats people send that we refuse, recognised by their first bytes, to say so plainly.
_REFUSED_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"%PDF", 0, "PDF"),
    (b"8BPS", 0, "Photoshop (PSD)"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
    (b"ftypavif", 4, "AVIF"),
    (b"ftypavis", 4, "AVIF"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "SVG/XML"),
    (b"PK\x03\x04", 0, "ZIP archive"),
)

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_INTEROP_IFD = 0xA005
_MAKER_NOTE = 0x927C
_MAX_BYTES_KEPT = 64  # bytes values longer than this are left out of the JSON EXIF
_MAX_TEXT_KEPT = 2000
_EXIF_DATETIME = re.compile(r"\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")

# How to turn a stored image upright for each EXIF orientation (as ImageOps.exif_transpose).
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class UnsupportedImage(ValueError):
    """The upload is not an acceptable image; ``str(exc)`` is a message for the user."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ImageTooLarge(UnsupportedImage):
    """The image has more pixels than allowed (or Pillow judged it a decompression bomb)."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # one of ALLOWED_FORMATS
    mime: str
    #: Pixel size as decoded, before ``orientation`` is applied. (HEIF decoders, and
    #: Pillow's for TIFF, turn the picture upright themselves and then report
    #: orientation 1.)
    width: int
    height: int
    exif: dict[str, Any]  # JSON-safe: tag names to str/int/float/None/lists
    camera_make: str | None
    camera_model: str | None
    #: DateTimeOriginal as the camera recorded it. Naive: a camera clock has no zone.
    taken_at: datetime | None
    taken_at_raw: str | None
    #: OffsetTimeOriginal ("+03:00") when the camera wrote one, verbatim.
    taken_at_offset: str | None
    gps_lat: float | None  # signed decimal degrees, south negative
    gps_lon: float | None  # west negative
    orientation: int  # EXIF orientation still to apply, 1-8; 1 when absent
    #: Warnings Pillow gave while reading (e.g. possibly corrupt EXIF), for the record.
    warnings: tuple[str, ...] = field(default=())

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as the photo is meant to be seen, after EXIF orientation."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


# -- public API -----------------------------------------------------------------------


def inspect_image(path: Path | str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Identify and check an image, read its EXIF, and prove that it decodes in full.

    A JPEG is proved by decoding it at 1/8 scale in greyscale: libjpeg still reads and
    Huffman-decodes every coefficient of every component, so truncation and broken
    entropy data are found, but no full-size pixels are made.
    """
    return _process(Path(path), outputs={}, max_pixels=max_pixels)


def ingest(
    path: Path | str,
    outputs: Mapping[str, tuple[int, Path]],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageInfo:
    """:func:`inspect_image` and :func:`make_derivatives` with one open and one decode.

    ``outputs`` is ``{size_name: (long_edge, dest_path)}`` (see
    ``PhotoStore.derivative_outputs``). Nothing is written if the image is refused.
    """
    return _process(Path(path), outputs=outputs, max_pixels=max_pixels)


def make_derivatives(
    src_path: Path | str,
    outputs: Mapping[str, tuple[int, Path]],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[str, tuple[int, int]]:
    """Write each derivative in ``outputs`` and return ``{size_name: (width, height)}``.

    The image is opened once; a JPEG is decoded at the smallest scale that still covers
    the largest derivative. Orientation is applied, the image is made RGB and resized
    largest first (each smaller size from the previous one), never upscaled, and saved
    as JPEG without metadata, atomically.
    """
    sizes: dict[str, tuple[int, int]] = {}
    _process(Path(src_path), outputs=outputs, max_pixels=max_pixels, written=sizes)
    return sizes


# -- the one pass -----------------------------------------------------------------------


def _process(
    path: Path,
    *,
    outputs: Mapping[str, tuple[int, Path]],
    max_pixels: int,
    written: dict[str, tuple[int, int]] | None = None,
) -> ImageInfo:
    # catch_warnings changes process-wide state for the duration (not thread-local before
    # Python 3.14). It only turns DecompressionBombWarning into an error and collects the
    # rest; Image.MAX_IMAGE_PIXELS is never touched -- our own, stricter limit is
    # checked on the size read from the header, before any pixel is decoded.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with _open(path) as im:
            fmt = "JPEG" if im.format == "MPO" else str(im.format)
            if fmt not in ALLOWED_FORMATS:  # cannot happen with formats=..., but be sure
                raise UnsupportedImage(_refused_format_message(fmt))
            width, height = im.size
            _check_pixels(width, height, max_pixels)
            icc_profile = im.info.get("icc_profile") if im.mode in ("RGB", "RGBA") else None

            if fmt == "JPEG":
                if outputs:
                    largest = max(edge for edge, _ in outputs.values())
                    im.draft("RGB", _fit((width, height), largest))
                else:
                    im.draft("L", (max(1, width // 8), max(1, height // 8)))
            _decode(im)
            if fmt != "JPEG":
                # Decoders may turn the picture upright themselves (pillow-heif always,
                # Pillow's TIFF plugin): from here on, size and orientation describe the
                # decoded pixels. A JPEG's size is the header's, not the reduced decode's.
                width, height = im.size
            exif = _read_exif(im)  # after decoding: a PNG's eXIf chunk may follow its pixels
            orientation = _orientation(exif.base)
            if outputs:
                upright = _ORIENTATION_TRANSPOSE.get(orientation)
                sizes = _write_derivatives(
                    im, (width, height), outputs, upright, icc_profile
                )
                if written is not None:
                    written.update(sizes)
        info = _image_info(path, fmt, width, height, exif, orientation)
    return _with_warnings(info, caught)


def _open(path: Path) -> ImageFile.ImageFile:
    try:
        if os.path.getsize(path) == 0:
            raise UnsupportedImage("The file is empty.")
        return Image.open(path, formats=_PILLOW_FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(_bomb_message()) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImage(_refused_format_message(_sniff_refused_format(path))) from exc
    except (UnsupportedImage, FileNotFoundError):
        raise
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, RuntimeError) as exc:
        raise UnsupportedImage(
            "The image could not be read: its header is damaged. "
            "Upload the original file from the camera or phone."
        ) from exc


def _bomb_message() -> str:
    limit = Image.MAX_IMAGE_PIXELS or 0
    return (
        "The image is too large to process safely: its header declares more than "
        f"{limit / 1e6:.0f} megapixels (a possible decompression bomb)."
    )


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedImage("The image has no pixels (its header gives a zero size).")
    pixels = width * height
    if pixels > max_pixels:
        raise ImageTooLarge(
            f"The image is too large: {width} × {height} pixels "
            f"({pixels / 1e6:.1f} megapixels); the limit is {max_pixels / 1e6:g} megapixels."
        )


def _decode(im: ImageFile.ImageFile) -> None:
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone changed Pillow's global: we cannot check
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        im.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(_bomb_message()) from exc
    except MemoryError:
        raise
    except Exception as exc:  # any failure to decode untrusted bytes is a refusal
        if "truncated" in str(exc):
            raise UnsupportedImage(
                "The image file is incomplete (truncated): it was cut off during copying "
                "or upload. Upload the original file again."
            ) from exc
        raise UnsupportedImage(
            "The image could not be decoded: the file is damaged. "
            "Upload the original file from the camera or phone."
        ) from exc


def _write_derivatives(
    im: Image.Image,
    original_size: tuple[int, int],
    outputs: Mapping[str, tuple[int, Path]],
    upright: Image.Transpose | None,
    icc_profile: bytes | None,
) -> dict[str, tuple[int, int]]:
    current = _to_rgb(im)
    sizes: dict[str, tuple[int, int]] = {}
    saving = []
    transposed = False
    try:
        for size_name, (long_edge, dest) in sorted(
            outputs.items(), key=lambda item: item[1][0], reverse=True
        ):
            # Sizes come from the stored (unrotated) pixels; the image is turned upright
            # after the first resize, where transposing is cheaper than on the decode.
            target = _fit(original_size, long_edge)
            if transposed and upright in _SWAPS_AXES:
                target = (target[1], target[0])
            if current.size != target:
                current = _resize(current, target)
            if upright is not None and not transposed:
                current = current.transpose(upright)
                transposed = True
            if current is im:
                current = im.copy()
            current.info = {}  # nothing of the original's metadata travels on
            # Encode in the background while the next, smaller size is computed.
            saving.append(_executor().submit(_save_jpeg, current, Path(dest), icc_profile))
            sizes[size_name] = current.size
    finally:
        for future in saving:
            future.result()  # re-raises a failed save
    return sizes


_SWAPS_AXES = (
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
)


def _save_jpeg(image: Image.Image, dest: Path, icc_profile: bytes | None) -> None:
    with atomic_write(dest) as f:
        image.save(
            f, format="JPEG", quality=DERIVATIVE_QUALITY, icc_profile=icc_profile, exif=b""
        )


_PARALLEL_RESIZE_PIXELS = 1_000_000
_RESAMPLE = Image.Resampling.BICUBIC
_WORKERS = max(2, min(4, os.cpu_count() or 1))
_executor_instance: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """Threads for resizing and encoding: Pillow releases the GIL while it works."""
    global _executor_instance
    with _executor_lock:
        if _executor_instance is None:
            _executor_instance = ThreadPoolExecutor(_WORKERS, thread_name_prefix="derivatives")
        return _executor_instance


def _forget_executor_after_fork() -> None:
    # A forked worker (gunicorn, rq) inherits the pool object but not its threads.
    global _executor_instance, _executor_lock
    _executor_instance = None
    _executor_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_executor_after_fork)


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Downscale as ``Image.thumbnail`` does: a big reduction first averages blocks of
    pixels (``Image.reduce``, as ``reducing_gap=2.0``), then a bicubic filter sized to
    the remaining scale. (A JPEG's draft decode has already halved or quartered it, so
    what remains is a gentle step. On a 12 MP photo, draft + bicubic is 43.3 dB PSNR
    from a full-decode Lanczos reference, draft + Lanczos 44.6 dB at 40% more time.)

    A big image is cut into horizontal bands resized on separate cores; each band's
    filter still reads the source rows beyond its edges (``box`` only sets the
    coefficients), so the bands join without a seam.
    """
    width, height = size
    box = (0.0, 0.0, float(image.width), float(image.height))
    reduce_by = int(min(image.width / width, image.height / height) / 2)
    if reduce_by >= 2:
        image = image.reduce(reduce_by)
        box = tuple(edge / reduce_by for edge in box)  # type: ignore[assignment]
    cores = os.cpu_count() or 1
    if image.width * image.height < _PARALLEL_RESIZE_PIXELS or cores < 2:
        return image.resize(size, _RESAMPLE, box=box)
    bands = min(_WORKERS, cores)
    edges = [round(height * i / bands) for i in range(bands + 1)]
    y_scale = box[3] / height

    def band(i: int) -> tuple[int, Image.Image]:
        top, bottom = edges[i], edges[i + 1]
        band_box = (0.0, top * y_scale, box[2], bottom * y_scale)
        return top, image.resize((width, bottom - top), _RESAMPLE, box=band_box)

    result = Image.new(image.mode, size)
    for top, part in _executor().map(band, range(bands)):
        result.paste(part, (0, top))
    return result


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """``size`` scaled so its long edge is at most ``long_edge`` (never enlarged)."""
    width, height = size
    longest = max(width, height)
    if longest <= long_edge:
        return width, height
    scale = long_edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        im = im.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif im.mode == "F":
        im = im.convert("L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


# -- EXIF -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Exif:
    base: Mapping[int, Any]  # IFD0: camera, orientation
    exif_ifd: Mapping[int, Any]  # 0x8769: times, exposure
    gps_ifd: Mapping[int, Any]  # 0x8825


def _read_exif(im: Image.Image) -> _Exif:
    """All of the EXIF we use, read while the file is still open."""
    try:
        exif = im.getexif()
    except Exception:  # unreadable EXIF is not a reason to refuse a photo
        return _Exif({}, {}, {})
    return _Exif(dict(exif), _safe_ifd(exif, _EXIF_IFD), _safe_ifd(exif, _GPS_IFD))


def _image_info(
    path: Path, fmt: str, width: int, height: int, exif: _Exif, orientation: int
) -> ImageInfo:
    base, exif_ifd, gps_ifd = exif.base, exif.exif_ifd, exif.gps_ifd

    taken_raw = None
    for tag in (0x9003, 0x9004):  # DateTimeOriginal, then DateTimeDigitized
        value = exif_ifd.get(tag, base.get(tag))
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and value.strip("\x00 "):
            taken_raw = value.strip("\x00 ")
            break
    subsec = exif_ifd.get(0x9291)  # SubsecTimeOriginal
    offset = _text(exif_ifd.get(0x9011))  # OffsetTimeOriginal
    gps_lat = _gps_degrees(gps_ifd.get(2), gps_ifd.get(1), limit=90, negative="S")
    gps_lon = _gps_degrees(gps_ifd.get(4), gps_ifd.get(3), limit=180, negative="W")

    return ImageInfo(
        format=fmt,
        mime=_mime(path, fmt),
        width=width,
        height=height,
        exif=_exif_to_json(base, exif_ifd, gps_ifd),
        camera_make=_text(base.get(0x010F)),
        camera_model=_text(base.get(0x0110)),
        taken_at=_parse_exif_datetime(taken_raw, subsec),
        taken_at_raw=taken_raw,
        taken_at_offset=offset,
        gps_lat=gps_lat,
        gps_lon=gps_lon,
        orientation=orientation,
    )


def _with_warnings(info: ImageInfo, caught: list[warnings.WarningMessage]) -> ImageInfo:
    if not caught:
        return info
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    return dataclasses.replace(info, warnings=messages)


def _safe_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        return {}


def _orientation(exif: Mapping[int, Any]) -> int:
    value = exif.get(0x0112)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _parse_exif_datetime(raw: str | None, subsec: Any = None) -> datetime | None:
    if not raw:
        return None
    match = _EXIF_DATETIME.match(raw)
    if not match:
        return None
    try:
        taken = datetime(*(int(part) for part in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00", month 13 ...
        return None
    subsec_text = _text(subsec)
    if subsec_text and subsec_text.isdigit():
        taken = taken.replace(microsecond=int(subsec_text[:6].ljust(6, "0")))
    return taken


def _gps_degrees(value: Any, ref: Any, *, limit: int, negative: str) -> float | None:
    if value is None:
        return None
    parts = value if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [_rational(part) for part in parts]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if any(n is None or n < 0 for n in numbers):
        return None
    degrees = sum(n / 60**i for i, n in enumerate(numbers))  # type: ignore[operator]
    if degrees > limit:
        return None
    if (_text(ref) or "").upper().startswith(negative):
        degrees = -degrees
    return round(degrees, 7)


def _rational(value: Any) -> float | None:
    if isinstance(value, TiffImagePlugin.IFDRational):
        if value.denominator == 0:
            return None
        return float(value.numerator) / float(value.denominator)
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator)
        return value[0] / value[1] if value[1] else None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00").strip()
    return value or None


def _exif_to_json(
    base: Mapping[int, Any], exif_ifd: Mapping[int, Any], gps_ifd: Mapping[int, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    skip = {_EXIF_IFD, _GPS_IFD, _INTEROP_IFD, _MAKER_NOTE}
    for tags, names in ((base, ExifTags.TAGS), (exif_ifd, ExifTags.TAGS)):
        for tag, value in tags.items():
            if tag in skip:
                continue
            converted = _json_value(value)
            if converted is not _SKIP:
                out[names.get(tag, f"0x{tag:04X}")] = converted
    for tag, value in gps_ifd.items():
        converted = _json_value(value)
        if converted is not _SKIP:
            name = ExifTags.GPSTAGS.get(tag, f"0x{tag:04X}")
            out[name if name.startswith("GPS") else f"GPS{name}"] = converted
    return out


_SKIP = object()


def _json_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, TiffImagePlugin.IFDRational):
        return _rational(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "").strip()[:_MAX_TEXT_KEPT]
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value).rstrip(b"\x00")
        if data and all(32 <= b < 127 for b in data):
            return data.decode("ascii")[:_MAX_TEXT_KEPT]
        if len(value) > _MAX_BYTES_KEPT:
            return _SKIP  # maker notes, embedded thumbnails and other blobs
        return bytes(value).hex()
    if isinstance(value, (tuple, list)) and depth < 2:
        items = [_json_value(item, depth + 1) for item in value[:256]]
        return [item for item in items if item is not _SKIP]
    return _SKIP


# -- formats ---------------------------------------------------------------------------


def _mime(path: Path, fmt: str) -> str:
    if fmt == "HEIF":
        with open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp" and head[8:12] not in _HEVC_BRANDS:
            return "image/heif"
    return MIME_TYPES[fmt]


def _sniff_refused_format(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    stripped = head.lstrip()
    for signature, offset, name in _REFUSED_SIGNATURES:
        sample = stripped if signature.startswith(b"<") else head
        if sample[offset : offset + len(signature)] == signature:
            return name
    return None


def _refused_format_message(fmt: str | None) -> str:
    if fmt:
        return f"{fmt} files are not accepted as photos. Accepted formats: {_ACCEPTED_LIST}."
    return (
        "The file is not an image in an accepted format, or it is damaged. "
        f"Accepted formats: {_ACCEPTED_LIST}."
    )
