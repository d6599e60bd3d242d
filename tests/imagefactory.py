"""Photo-like test images with camera EXIF, shared by the tests and the benchmarks.

Flat colours compress to almost nothing and decode unrealistically fast, so these images
have what camera photos have: smooth light gradients, objects with edges, surface texture
and per-pixel sensor noise. Everything is seeded: the same arguments give the same bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, TiffImagePlugin


@dataclass(frozen=True)
class CameraExif:
    make: str | None = "Canon"
    model: str | None = "Canon EOS 90D"
    taken_at: str | None = "2024:03:12 14:05:09"  # EXIF DateTimeOriginal, as the camera wrote it
    offset: str | None = None  # OffsetTimeOriginal, e.g. "+03:00"
    #: Signed decimal degrees (south and west negative); written as DMS rationals + ref.
    gps: tuple[float, float] | None = (15.3547, 44.2066)  # Sana'a
    orientation: int | None = None


DEFAULT_EXIF = CameraExif()
NO_EXIF = CameraExif(make=None, model=None, taken_at=None, gps=None)


def _dms(value: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(10_000)
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(seconds.numerator, seconds.denominator),
    )


def build_exif(camera: CameraExif = DEFAULT_EXIF) -> Image.Exif:
    exif = Image.Exif()
    if camera.make:
        exif[0x010F] = camera.make
    if camera.model:
        exif[0x0110] = camera.model
    if camera.orientation is not None:
        exif[0x0112] = camera.orientation
    if camera.taken_at:
        exif[0x0132] = camera.taken_at  # DateTime (file changed), here the same
        exif_ifd = exif.get_ifd(0x8769)
        exif_ifd[0x9003] = camera.taken_at  # DateTimeOriginal
        exif_ifd[0x9004] = camera.taken_at  # DateTimeDigitized
        if camera.offset:
            exif_ifd[0x9011] = camera.offset
    if camera.gps:
        lat, lon = camera.gps
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[0] = b"\x02\x03\x00\x00"  # GPSVersionID
        gps_ifd[1] = "S" if lat < 0 else "N"
        gps_ifd[2] = _dms(lat)
        gps_ifd[3] = "W" if lon < 0 else "E"
        gps_ifd[4] = _dms(lon)
    return exif


def photographic_image(
    width: int, height: int, *, seed: int = 0, noise: float = 7.0
) -> Image.Image:
    """An RGB image with the statistics of a photo: gradients, shapes, texture, noise."""
    rng = random.Random(seed)

    # Light: two gradients at different angles, one per channel mix.
    vertical = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    radial = Image.radial_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    image = Image.merge("RGB", (vertical, radial, horizontal))
    image = Image.blend(image, Image.new("RGB", (width, height), (120, 110, 95)), 0.45)

    # Objects: weapons on a table are mostly hard-edged shapes of few colours.
    draw = ImageDraw.Draw(image)
    scale = max(width, height)
    for _ in range(60):
        x0 = rng.randrange(-scale // 10, width)
        y0 = rng.randrange(-scale // 10, height)
        x1 = x0 + rng.randrange(scale // 40, scale // 3)
        y1 = y0 + rng.randrange(scale // 40, scale // 4)
        colour = tuple(rng.randrange(20, 236) for _ in range(3))
        if rng.random() < 0.6:
            outline = max(1, scale // 800)
            draw.ellipse((x0, y0, x1, y1), fill=colour, outline=(15, 15, 15), width=outline)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    image = image.filter(ImageFilter.BoxBlur(max(1, scale // 2000)))

    # Texture: coarse mottling (worn metal, wood, cloth), then fine sensor noise.
    coarse = _seeded_noise(max(1, width // 6), max(1, height // 6), rng, sigma=22)
    coarse = coarse.resize((width, height), Image.Resampling.BICUBIC)
    fine = _seeded_noise(width, height, rng, sigma=noise)
    texture = ImageChops.add(coarse, fine, scale=1.0, offset=-128)
    return ImageChops.add(image, Image.merge("RGB", (texture, texture, texture)), offset=-128)


def _seeded_noise(width: int, height: int, rng: random.Random, *, sigma: float) -> Image.Image:
    """Noise centred on 128 with roughly Gaussian spread ``sigma`` (mean of two uniforms:
    Image.effect_noise is Gaussian but draws from C's rand(), which no seed controls)."""
    a = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    b = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    triangular = ImageChops.add(a, b, scale=2.0)  # mean 127.5, spread ~52
    factor = sigma / 52.0
    return triangular.point(lambda v: round(128 + (v - 127.5) * factor))


def photographic_jpeg(
    path: Path,
    width: int,
    height: int,
    *,
    exif: CameraExif | None = DEFAULT_EXIF,
    orientation: int | None = None,
    seed: int = 0,
    quality: int = 92,
    noise: float = 7.0,
) -> Path:
    """Write a camera-like JPEG. ``orientation`` overrides the EXIF Orientation tag.

    The same arguments give the same bytes, so a small image (up to 2 megapixels, what the
    tests ask for: 40 ms for 640×480) is made once per process and written again after."""
    key = (width, height, exif, orientation, seed, quality, noise)
    if key in _small_jpegs:
        Path(path).write_bytes(_small_jpegs[key])
        return path
    image = photographic_image(width, height, seed=seed, noise=noise)
    camera = exif or NO_EXIF
    if orientation is not None:
        camera = CameraExif(**{**camera.__dict__, "orientation": orientation})
    image.save(path, "JPEG", quality=quality, exif=build_exif(camera), subsampling="4:2:0")
    if width * height <= 2_000_000:
        _small_jpegs[key] = Path(path).read_bytes()
    return path


_small_jpegs: dict[tuple, bytes] = {}


def save_as(
    image: Image.Image, path: Path, fmt: str, *, exif: CameraExif | None = DEFAULT_EXIF
) -> Path:
    """Save in another accepted format (PNG, TIFF, WEBP, HEIF) with the same EXIF."""
    params: dict = {}
    if exif is not None:
        params["exif"] = build_exif(exif)
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
        params["quality"] = 80
    image.save(path, fmt, **params)
    return path


def portrait_marker_jpeg(
    path: Path, width: int = 800, height: int = 600, *, orientation: int = 6
) -> Path:
    """A landscape JPEG stored sideways, as a phone held upright writes it: a red block
    marks the stored top-left corner so tests can see where it ends up after rotation."""
    image = photographic_image(width, height, seed=7)
    ImageDraw.Draw(image).rectangle((0, 0, width // 4, height // 4), fill=(255, 0, 0))
    image.save(path, "JPEG", quality=90, exif=build_exif(CameraExif(orientation=orientation)))
    return path


def png_declaring_size(path: Path, width: int, height: int) -> Path:
    """A small file whose PNG header declares ``width`` x ``height`` 1-bit pixels: a
    decompression bomb's shape, without the cost of making one (the pixel data is a
    single compressed row, so decoding it would fail -- it must be refused before)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + bytes((width + 7) // 8)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row))
        + chunk(b"IEND", b"")
    )
    return path
