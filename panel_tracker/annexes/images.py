"""Print derivatives: each photo of an annex as a JPEG sized to its printed box at about
200 dpi, made from the ``large`` derivative (upright, EXIF stripped), never from the
original, with its marking boxes drawn in when asked. Cached in the photo store under
``print/<panel>/`` by photo, size and boxes; purging a photo removes them with it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image, ImageDraw

from ..evidence.storage import PhotoStore, atomic_write, validate_panel_code, validate_sha256

DPI = 200
QUALITY = 80
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


def print_derivative(store: PhotoStore, panel_code: str, image: dict) -> tuple[Path, tuple[int, int]] | None:
    """The print derivative of ``image`` (a document image: sha256, width_mm, height_mm,
    boxes), made if missing; ``(path, (width_px, height_px))``, or None when the photo's
    large derivative is gone (a purged photo)."""
    sha = image["sha256"]
    target = (px(image["width_mm"]), px(image["height_mm"]))
    path = print_path(store, panel_code, sha, target, image.get("boxes"))
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
            im.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
        if image.get("boxes"):
            draw = ImageDraw.Draw(im)
            line = max(2, round(max(im.size) * 0.005))
            for x, y, w, h in image["boxes"]:
                draw.rectangle([x * im.width, y * im.height, (x + w) * im.width, (y + h) * im.height],
                               outline=BOX_COLOUR, width=line)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            im.save(f, "JPEG", quality=QUALITY, optimize=False, progressive=False, subsampling="4:2:0")
        return path, im.size
