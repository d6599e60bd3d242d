"""Print derivatives keep an annex's size bounded: a photo with fine texture or sensor
noise is saved at a lower quality so it stays near its budget of bits per pixel; a smooth
one keeps the normal quality."""
from __future__ import annotations

import io

from PIL import Image, ImageFilter

from panel_tracker.annexes import images
from tests.imagefactory import photographic_image


def quality_80(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=images.QUALITY, subsampling="4:2:0")
    return buffer.getvalue()


def test_noisy_photo_is_saved_lighter_and_a_smooth_one_keeps_quality_80():
    noisy = photographic_image(646, 485, seed=5)
    smooth = noisy.filter(ImageFilter.GaussianBlur(6))
    budget = images.MAX_BITS_PER_PIXEL / 8 * 646 * 485

    lighter = images.encode(noisy)
    assert len(quality_80(noisy)) > budget
    assert len(lighter) < 0.8 * len(quality_80(noisy))
    assert len(lighter) < 1.15 * budget  # at worst MIN_QUALITY, a little over
    assert Image.open(io.BytesIO(lighter)).size == (646, 485)

    assert images.encode(smooth) == quality_80(smooth)
