"""Evidence photos: what the camera recorded is read, derivatives are safe to show, and
anything that is not a complete image in an accepted format is refused plainly."""

from __future__ import annotations

import io
import json
import warnings
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw

from panel_tracker.evidence import images
from panel_tracker.evidence.images import ImageTooLarge, UnsupportedImage
from panel_tracker.evidence.storage import PhotoStore
from tests.imagefactory import (
    CameraExif,
    NO_EXIF,
    photographic_image,
    photographic_jpeg,
    png_declaring_size,
    portrait_marker_jpeg,
    save_as,
)


def outputs_in(directory: Path, large: int = 1600, thumb: int = 400) -> dict[str, tuple[int, Path]]:
    return {"large": (large, directory / "large.jpg"), "thumb": (thumb, directory / "thumb.jpg")}


def opened(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im


# -- what the camera recorded ------------------------------------------------------------


def test_camera_time_and_place_are_read_from_exif(tmp_path: Path) -> None:
    camera = CameraExif(
        make="Apple", model="iPhone 13", taken_at="2024:03:12 14:05:09", offset="+03:00",
        gps=(15.3547, 44.2066),
    )
    photo = photographic_jpeg(tmp_path / "IMG_0001.JPG", 640, 480, exif=camera)

    info = images.inspect_image(photo)

    assert (info.format, info.mime, info.width, info.height) == ("JPEG", "image/jpeg", 640, 480)
    assert (info.camera_make, info.camera_model) == ("Apple", "iPhone 13")
    assert info.taken_at == datetime(2024, 3, 12, 14, 5, 9)
    assert info.taken_at.tzinfo is None  # the camera clock has no zone: kept as recorded
    assert info.taken_at_raw == "2024:03:12 14:05:09"
    assert info.taken_at_offset == "+03:00"
    assert info.gps_lat == pytest.approx(15.3547, abs=1e-5)
    assert info.gps_lon == pytest.approx(44.2066, abs=1e-5)
    assert info.orientation == 1
    assert info.warnings == ()


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Sana'a", 15.3547, 44.2066),
        ("Cape Town", -33.9249, 18.4241),
        ("Dakar", 14.7167, -17.4677),
        ("Lima", -12.0464, -77.0428),
    ],
)
def test_gps_south_and_west_are_negative_degrees(
    tmp_path: Path, place: str, lat: float, lon: float
) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 320, 240, exif=CameraExif(gps=(lat, lon)))

    info = images.inspect_image(photo)

    assert info.gps_lat == pytest.approx(lat, abs=1e-5), place
    assert info.gps_lon == pytest.approx(lon, abs=1e-5), place
    assert info.exif["GPSLatitudeRef"] == ("S" if lat < 0 else "N")
    assert info.exif["GPSLongitudeRef"] == ("W" if lon < 0 else "E")


def test_exif_is_kept_as_json_with_tag_names(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 320, 240)

    info = images.inspect_image(photo)

    assert json.loads(json.dumps(info.exif)) == info.exif
    assert info.exif["Make"] == "Canon"
    assert info.exif["DateTimeOriginal"] == "2024:03:12 14:05:09"
    assert len(info.exif["GPSLatitude"]) == 3
    assert all(isinstance(key, str) for key in info.exif)


def test_photo_without_exif_has_no_camera_time_or_place(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 320, 240, exif=NO_EXIF)

    info = images.inspect_image(photo)

    assert (info.camera_make, info.camera_model, info.taken_at, info.taken_at_raw) == (
        None, None, None, None,
    )
    assert (info.gps_lat, info.gps_lon, info.orientation) == (None, None, 1)


def test_unset_camera_clock_keeps_the_raw_value_but_no_time(tmp_path: Path) -> None:
    photo = photographic_jpeg(
        tmp_path / "p.jpg", 320, 240, exif=CameraExif(taken_at="0000:00:00 00:00:00")
    )

    info = images.inspect_image(photo)

    assert info.taken_at is None
    assert info.taken_at_raw == "0000:00:00 00:00:00"


# -- derivatives -------------------------------------------------------------------------


def test_camera_photo_gets_a_1600_pixel_view_and_a_400_pixel_thumbnail(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 3300, 2200)  # decoded at half scale

    sizes = images.make_derivatives(photo, outputs_in(tmp_path))

    assert sizes == {"large": (1600, 1067), "thumb": (400, 267)}
    assert opened(tmp_path / "large.jpg").size == (1600, 1067)
    assert opened(tmp_path / "thumb.jpg").size == (400, 267)
    assert opened(tmp_path / "large.jpg").format == "JPEG"


def test_small_photo_is_never_enlarged(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 640, 480)

    sizes = images.make_derivatives(photo, outputs_in(tmp_path))

    assert sizes == {"large": (640, 480), "thumb": (400, 300)}
    tiny = photographic_jpeg(tmp_path / "tiny.jpg", 120, 90)
    assert images.make_derivatives(tiny, outputs_in(tmp_path / "tiny")) == {
        "large": (120, 90), "thumb": (120, 90),
    }


def test_derivatives_carry_no_exif_so_no_gps_reaches_a_page(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 2000, 1500, orientation=6)
    assert images.inspect_image(photo).gps_lat is not None

    images.make_derivatives(photo, outputs_in(tmp_path))

    for name in ("large.jpg", "thumb.jpg"):
        data = (tmp_path / name).read_bytes()
        derivative = opened(tmp_path / name)
        assert dict(derivative.getexif()) == {}
        assert "exif" not in derivative.info
        assert b"Exif\x00\x00" not in data
        assert b"GPS" not in data and b"Canon" not in data


def test_colour_profile_of_an_rgb_photo_is_kept(tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = tmp_path / "p.jpg"
    photographic_image(640, 480).save(photo, "JPEG", icc_profile=profile)

    images.make_derivatives(photo, outputs_in(tmp_path))

    assert opened(tmp_path / "large.jpg").info.get("icc_profile") == profile


def test_phone_held_upright_gives_a_portrait_derivative(tmp_path: Path) -> None:
    photo = portrait_marker_jpeg(tmp_path / "p.jpg", 800, 600, orientation=6)
    info = images.inspect_image(photo)
    assert (info.width, info.height, info.orientation) == (800, 600, 6)
    assert info.display_size == (600, 800)

    sizes = images.make_derivatives(photo, outputs_in(tmp_path, thumb=400))

    assert sizes == {"large": (600, 800), "thumb": (300, 400)}
    large = opened(tmp_path / "large.jpg")
    # Orientation 6: the stored top-left corner (red) is the displayed top-right.
    assert is_red(large.getpixel((large.width - 20, 20)))
    assert not is_red(large.getpixel((20, 20)))


def is_red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 200 and g < 60 and b < 60


@pytest.mark.parametrize(
    ("orientation", "corner", "portrait"),
    [
        (1, "top-left", False),
        (2, "top-right", False),
        (3, "bottom-right", False),
        (4, "bottom-left", False),
        (5, "top-left", True),
        (6, "top-right", True),
        (7, "bottom-right", True),
        (8, "bottom-left", True),
    ],
)
def test_every_exif_orientation_is_turned_upright(
    tmp_path: Path, orientation: int, corner: str, portrait: bool
) -> None:
    photo = portrait_marker_jpeg(tmp_path / "p.jpg", 800, 600, orientation=orientation)

    images.make_derivatives(photo, outputs_in(tmp_path))

    for name in ("large.jpg", "thumb.jpg"):
        derivative = opened(tmp_path / name)
        assert (derivative.height > derivative.width) is portrait
        w, h = derivative.size
        inset = max(4, w // 40)
        corners = {
            "top-left": (inset, inset),
            "top-right": (w - inset, inset),
            "bottom-left": (inset, h - inset),
            "bottom-right": (w - inset, h - inset),
        }
        assert [c for c, xy in corners.items() if is_red(derivative.getpixel(xy))] == [corner]


def test_ingest_reads_exif_and_writes_derivatives_in_one_pass(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 4000, 3000, orientation=6)

    info = images.ingest(photo, outputs_in(tmp_path))

    assert (info.width, info.height, info.display_size) == (4000, 3000, (3000, 4000))
    assert info.camera_model == "Canon EOS 90D"
    assert opened(tmp_path / "large.jpg").size == (1200, 1600)
    assert opened(tmp_path / "thumb.jpg").size == (300, 400)


def test_upload_path_stores_a_good_photo_with_both_derivatives_and_refuses_a_cut_one(
    tmp_path: Path,
) -> None:
    store = PhotoStore(tmp_path / "store")
    infos = {}

    def check(tmp: Path, sha: str) -> None:
        infos[sha] = images.ingest(tmp, store.derivative_outputs("YEM", sha))

    good = photographic_jpeg(tmp_path / "good.jpg", 2000, 1500).read_bytes()
    stored = store.put_original("YEM", io.BytesIO(good), check=check)
    with pytest.raises(UnsupportedImage, match="incomplete"):
        store.put_original("YEM", good[:-5000], check=check)

    assert infos[stored.sha256].camera_make == "Canon"
    assert store.verify("YEM", stored.sha256) is True
    for _, derivative in store.derivative_outputs("YEM", stored.sha256).values():
        assert derivative.is_file()
    assert [sha for _, sha, _ in store.iter_originals()] == [stored.sha256]
    assert len(list(store.derivatives_dir.rglob("*.jpg"))) == 2


def test_camera_jpeg_with_extra_pictures_is_read_as_jpeg(tmp_path: Path) -> None:
    # Phones append depth maps or previews as further pictures (Pillow calls it MPO).
    photo = tmp_path / "depth.jpg"
    photographic_image(800, 600).save(
        photo, "MPO", save_all=True, append_images=[photographic_image(200, 150, seed=1)]
    )
    with Image.open(photo) as im:
        assert im.format == "MPO"

    info = images.ingest(photo, outputs_in(tmp_path))

    assert (info.format, info.mime, info.width) == ("JPEG", "image/jpeg", 800)
    assert opened(tmp_path / "large.jpg").size == (800, 600)


def test_photo_with_transparency_is_shown_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 149, 199), fill=(0, 0, 255, 255))
    photo = save_as(image, tmp_path / "p.png", "PNG", exif=None)

    images.make_derivatives(photo, outputs_in(tmp_path))

    large = opened(tmp_path / "large.jpg")
    assert large.mode == "RGB"
    assert large.getpixel((250, 100)) >= (245, 245, 245)
    assert large.getpixel((50, 100))[2] > 200


def test_16_bit_scan_and_cmyk_print_are_converted_to_rgb(tmp_path: Path) -> None:
    scan = Image.linear_gradient("L").resize((256, 128)).convert("I").point(lambda v: v * 256)
    scan_path = tmp_path / "scan.png"
    scan.convert("I;16").save(scan_path)
    cmyk_path = tmp_path / "print.jpg"
    photographic_image(320, 240).convert("CMYK").save(cmyk_path, "JPEG")

    for source in (scan_path, cmyk_path):
        images.make_derivatives(source, outputs_in(tmp_path / source.stem))
        assert opened(tmp_path / source.stem / "large.jpg").mode == "RGB"
    scan_large = opened(tmp_path / "scan" / "large.jpg")  # a vertical black-to-white ramp
    assert scan_large.getpixel((128, 2))[0] < 20 and scan_large.getpixel((128, 125))[0] > 230


# -- accepted formats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "suffix", "mime", "has_gps"),
    [
        ("PNG", ".png", "image/png", True),
        ("WEBP", ".webp", "image/webp", True),
        ("TIFF", ".tif", "image/tiff", False),  # Pillow writes no GPS IFD into a TIFF
        ("HEIF", ".heic", "image/heic", True),
    ],
)
def test_png_webp_tiff_and_iphone_heic_are_accepted(
    tmp_path: Path, fmt: str, suffix: str, mime: str, has_gps: bool
) -> None:
    photo = save_as(
        photographic_image(640, 480), tmp_path / f"p{suffix}", fmt,
        exif=CameraExif(make="Apple", model="iPhone 15 Pro", gps=(-4.3217, 15.3125)),
    )

    info = images.ingest(photo, outputs_in(tmp_path))

    assert (info.format, info.mime, info.display_size) == (fmt, mime, (640, 480))
    assert info.camera_make == "Apple"
    if has_gps:
        assert info.taken_at == datetime(2024, 3, 12, 14, 5, 9)
        assert (info.gps_lat, info.gps_lon) == (pytest.approx(-4.3217), pytest.approx(15.3125))
    assert opened(tmp_path / "large.jpg").size == (640, 480)
    assert opened(tmp_path / "thumb.jpg").size == (400, 300)
    assert b"Exif\x00\x00" not in (tmp_path / "large.jpg").read_bytes()


def test_accepted_formats_are_listed_with_their_mime_types_and_extensions() -> None:
    assert images.ALLOWED_FORMATS == {"JPEG", "PNG", "HEIF", "TIFF", "WEBP"}
    assert set(images.MIME_TYPES) == set(images.EXTENSIONS) == images.ALLOWED_FORMATS
    assert {"image/heic", "image/heif", "image/jpeg"} <= images.ACCEPTED_MIME_TYPES
    assert ".heic" in images.EXTENSIONS["HEIF"]
    assert "HEIF" in Image.registered_extensions().values()


# -- refusals ----------------------------------------------------------------------------


def refusal(path: Path, **kwargs) -> str:
    with pytest.raises(UnsupportedImage) as raised:
        images.inspect_image(path, **kwargs)
    return str(raised.value)


def test_decompression_bomb_is_refused_before_its_pixels_are_decoded(tmp_path: Path) -> None:
    pixels_before = Image.MAX_IMAGE_PIXELS
    filters_before = list(warnings.filters)
    bomb = png_declaring_size(tmp_path / "bomb.png", 20_000, 20_000)  # 400 MP, a few bytes

    with pytest.raises(ImageTooLarge, match="too many pixels|too large"):
        images.inspect_image(bomb)
    with pytest.raises(ImageTooLarge):
        images.make_derivatives(bomb, outputs_in(tmp_path / "out"))

    assert not (tmp_path / "out").exists()
    assert Image.MAX_IMAGE_PIXELS == pixels_before
    assert warnings.filters == filters_before


def test_image_over_pillows_warning_threshold_is_refused_not_warned(tmp_path: Path) -> None:
    # 100 MP: above Pillow's DecompressionBombWarning limit, below its error limit.
    big = png_declaring_size(tmp_path / "big.png", 10_000, 10_000)

    with pytest.raises(ImageTooLarge):
        images.inspect_image(big, max_pixels=200_000_000)


def test_image_over_the_panel_pixel_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    photo = photographic_jpeg(tmp_path / "p.jpg", 640, 480)

    message = refusal(photo, max_pixels=300_000)

    assert "640 × 480" in message and "0.3 megapixels" in message
    assert images.inspect_image(photo, max_pixels=640 * 480).width == 640


def test_truncated_jpeg_is_refused_as_incomplete(tmp_path: Path) -> None:
    data = photographic_jpeg(tmp_path / "p.jpg", 1600, 1200).read_bytes()
    outputs = outputs_in(tmp_path / "out")

    for keep in (len(data) - 2, len(data) * 2 // 3, 5000):
        cut = tmp_path / f"cut-{keep}.jpg"
        cut.write_bytes(data[:keep])
        assert "incomplete" in refusal(cut)
        with pytest.raises(UnsupportedImage, match="incomplete"):
            images.ingest(cut, outputs)  # the reduced-scale decode still reads it all
        with pytest.raises(UnsupportedImage, match="incomplete"):
            images.make_derivatives(cut, outputs)
    assert not any(path.exists() for _, path in outputs.values())


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    png = io.BytesIO()
    photographic_image(200, 150).save(png, "PNG")
    broken_png = bytearray(png.getvalue())
    idat = broken_png.index(b"IDAT")
    broken_png[idat + 100 : idat + 120] = bytes(20)  # its checksum no longer matches
    (tmp_path / "broken.png").write_bytes(broken_png)
    (tmp_path / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)

    assert "damaged" in refusal(tmp_path / "broken.png")
    assert "damaged" in refusal(tmp_path / "garbage.jpg")


def test_text_file_renamed_to_jpg_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "IMG_0042.jpg"
    fake.write_text("Serial AB 102345, receiver, photographed 12 March\n")

    message = refusal(fake)

    assert "not an image in an accepted format" in message
    assert "JPEG, PNG, HEIC/HEIF, TIFF, WebP" in message


@pytest.mark.parametrize(
    ("fmt", "suffix", "name"),
    [("GIF", ".gif", "GIF"), ("BMP", ".bmp", "BMP"), ("PDF", ".pdf", "PDF")],
)
def test_formats_we_do_not_accept_are_refused_by_name(
    tmp_path: Path, fmt: str, suffix: str, name: str
) -> None:
    path = tmp_path / f"p{suffix}"
    photographic_image(64, 48).save(path, fmt)

    message = refusal(path)

    assert message.startswith(f"{name} files are not accepted")
    assert "Accepted formats: JPEG" in message


def test_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")

    assert refusal(tmp_path / "empty.jpg") == "The file is empty."
