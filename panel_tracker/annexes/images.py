"""Print derivatives: each photo of an annex as a JPEG sized to its printed box at about
200 dpi, made from the ``large`` derivative (upright, EXIF stripped), never from the
original, with its marking boxes drawn in when asked. Cached in the photo store under
``print/<panel>/`` by photo, size and boxes; purging a photo removes them with it.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from PIL import Image, ImageDraw

from ..evidence.storage import PhotoStore, atomic_write, validate_panel_code, validate_sha256

DPI = 200
QUALITY = 80
#: A print derivative weighs at most this many bits a pixel (about 51 kB for a photo of a
#: two-photo item sheet, 646 x 485 pixels), so 1,000 photos keep an annex under 60 MB: a
#: smooth photo keeps :data:`QUALITY`; one with fine texture or sensor noise is saved at the
#: highest of :data:`TRIAL_QUALITIES` that fits, :data:`MIN_QUALITY` at worst.
MAX_BITS_PER_PIXEL = 1.3
TRIAL_QUALITIES = (QUALITY, 70, 60, 50)
MIN_QUALITY = 45
BOX_COLOUR = (220, 0, 0)


def px(mm: float) -> int:
    return max(1, round(mm / 25.4 * DPI))


def fit_mm(width: int, height: int, box_mm: tuple[float, float]) -> tuple[float, float]:
    """The printed size (mm) of a ``width`` × ``height`` photo fitted into ``box_mm``."""
    scale = min(box_mm[0] / max(width, 1), box_mm[1] / max(height, 1))
    return round(width * scale, 1), round(height * scale, 1)


def print_path(store: PhotoStore, panel_code: str, sha: str, size: tuple[int, int], boxes) -> Path:
    validate_panel_code(panel_code)
    validate_sha256(sha)
    name = f"{sha}-{int(size[0])}x{int(size[1])}"
    if boxes:
        name += "-b" + hashlib.sha256(json.dumps(boxes).encode()).hexdigest()[:12]
    path = store.root / "print" / panel_code / sha[:2] / f"{name}.jpg"
    if not path.resolve().is_relative_to(store.root):
        raise ValueError("print derivative outside the photo store")
    return path


def image_path(store: PhotoStore, panel_code: str, image: dict) -> Path:
    """Where the print derivative of ``image`` (a document image) is kept."""
    return print_path(store, panel_code, image["sha256"], (px(image["width_mm"]), px(image["height_mm"])),
                      image.get("boxes"))


def print_derivative(store: PhotoStore, panel_code: str, image: dict) -> tuple[Path, tuple[int, int]] | None:
    """The print derivative of ``image`` (a document image: sha256, width_mm, height_mm,
    boxes), made if missing; ``(path, (width_px, height_px))``, or None when the photo's
    large derivative is gone (a purged photo)."""
    sha = image["sha256"]
    target = (px(image["width_mm"]), px(image["height_mm"]))
    path = image_path(store, panel_code, image)
    if path.exists():
        with Image.open(path) as done:
            return path, done.size
    source = store.derivative_path(panel_code, sha, "large")
    if not source.exists():
        return None
    with Image.open(source) as im:
        im.draft("RGB", target)
        im = im.convert("RGB")
        if im.width > target[0] or im.height > target[1]:
            im.thumbnail(target, Image.Resampling.BICUBIC, reducing_gap=2.0)  # as the evidence derivatives
        if image.get("boxes"):
            draw = ImageDraw.Draw(im)
            line = max(2, round(max(im.size) * 0.005))
            for x, y, w, h in image["boxes"]:
                draw.rectangle([x * im.width, y * im.height, (x + w) * im.width, (y + h) * im.height],
                               outline=BOX_COLOUR, width=line)
        data = encode(im)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(data)
        return path, im.size


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=quality, optimize=False, progressive=False, subsampling="4:2:0")
    return buffer.getvalue()


def encode(im: Image.Image) -> bytes:
    """``im`` as a JPEG within :data:`MAX_BITS_PER_PIXEL`. The quality is chosen on the
    central quarter of the picture (the same scale, a quarter of the work), then the whole
    is saved once."""
    budget = MAX_BITS_PER_PIXEL / 8
    w, h = im.size
    sample = im.crop((w // 4, h // 4, w // 4 + max(1, w // 2), h // 4 + max(1, h // 2)))
    area = sample.width * sample.height
    quality = next((q for q in TRIAL_QUALITIES if len(_jpeg(sample, q)) <= budget * area * 0.97), MIN_QUALITY)
    return _jpeg(im, quality)
