"""Benchmark: ingest of camera photos, from upload bytes until both derivatives exist.

    .venv/bin/python bench/photo_ingest.py [--photos 15] [--width 4000 --height 3000]

Makes N photo-like JPEGs (12 MP by default, with camera EXIF and GPS, sensor noise and
texture so each is 3-6 MB like a camera's), then times per photo:

  naive   sha256 + write the original + Image.open + EXIF + full decode + exif_transpose
          + LANCZOS resize to 1600 and to 400 from the full image + save both
  ours    PhotoStore.put_original + inspect_image + make_derivatives (two decodes)
  ingest  PhotoStore.put_original(check=ingest): header, EXIF, one reduced-scale decode
          and both derivatives before the original is linked into place (the upload path)

Variants run interleaved photo by photo, after one warm-up each, so drift and noise hit
them alike. Peak RSS is measured per variant by resetting the kernel's high-water mark.
Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image, ImageOps  # noqa: E402

from panel_tracker.evidence import images  # noqa: E402
from panel_tracker.evidence.storage import DERIVATIVE_SIZES, PhotoStore  # noqa: E402
from tests.imagefactory import CameraExif, photographic_jpeg  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from memory import peak_mb, reset_peak  # noqa: E402

PANEL = "YEM"


def naive(src: Path, workdir: Path) -> None:
    data = src.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    (workdir / sha).write_bytes(data)
    with Image.open(src) as im:
        exif = im.getexif()
        exif.get_ifd(0x8769), exif.get_ifd(0x8825)
        im.load()
        upright = ImageOps.exif_transpose(im).convert("RGB")
    for name, edge in DERIVATIVE_SIZES.items():
        scale = edge / max(upright.size)
        size = (round(upright.width * scale), round(upright.height * scale))
        upright.resize(size, Image.Resampling.LANCZOS).save(
            workdir / f"{sha}-{name}.jpg", "JPEG", quality=85
        )


def ours(src: Path, store: PhotoStore) -> None:
    with open(src, "rb") as upload:
        stored = store.put_original(PANEL, upload)
    images.inspect_image(stored.path)
    images.make_derivatives(stored.path, store.derivative_outputs(PANEL, stored.sha256))


def ours_single_decode(src: Path, store: PhotoStore) -> None:
    def check(tmp: Path, sha: str) -> None:
        images.ingest(tmp, store.derivative_outputs(PANEL, sha))

    with open(src, "rb") as upload:
        store.put_original(PANEL, upload, check=check)


def summary(times: list[float]) -> tuple[float, float, float]:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return statistics.median(ms), p90, ms[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=15)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="photo-ingest-", dir=args.workdir))
    try:
        run(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    photos_dir = workdir / "photos"
    photos_dir.mkdir()
    print(
        f"Python {platform.python_version()}, Pillow {Image.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(f"Making {args.photos} photos of {args.width}x{args.height} ...", flush=True)
    photos = []
    for i in range(args.photos):
        camera = CameraExif(
            taken_at=f"2024:03:12 14:{i // 60:02d}:{i % 60:02d}",
            gps=(15.35 + i / 1000, 44.2 - i / 1000),
            orientation=6 if i % 4 == 3 else 1,  # every fourth shot held upright
        )
        photos.append(
            photographic_jpeg(
                photos_dir / f"IMG_{i:04d}.JPG", args.width, args.height, exif=camera, seed=i
            )
        )
    sizes = [p.stat().st_size / 1e6 for p in photos]
    print(
        f"Photo files: {min(sizes):.1f}-{max(sizes):.1f} MB "
        f"(mean {statistics.mean(sizes):.1f} MB)\n"
    )

    naive_dir = workdir / "naive"
    naive_dir.mkdir()
    variants: dict[str, Callable[[Path], None]] = {
        "naive": lambda src: naive(src, naive_dir),
        "ours": lambda src: ours(src, PhotoStore(workdir / "store-ours")),
        "ingest": lambda src: ours_single_decode(src, PhotoStore(workdir / "store-ingest")),
    }

    # Warm-up (imports, plugin registry, thread pool), then peak RSS per variant.
    peaks: dict[str, float] = {}
    can_reset = reset_peak()
    for name, fn in variants.items():
        fn(photos[0])
        reset_peak()
        for src in photos[:3]:
            fn(src)
        peaks[name] = peak_mb()
    for store_dir in ("store-ours", "store-ingest"):
        shutil.rmtree(workdir / store_dir)  # timed runs below all store new bytes
    shutil.rmtree(naive_dir)
    naive_dir.mkdir()

    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    load_before = os.getloadavg()[0]
    for src in photos:
        for name, fn in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(src)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    load_after = os.getloadavg()[0]

    header = (
        f"{'variant':<8} {'median':>8} {'p90':>8} {'min':>8} {'CPU med':>8} {'peak RSS':>10}"
    )
    print(f"Whole ingest per photo, {len(photos)} photos, wall-clock ms (CPU = all threads):")
    print(header)
    print("-" * len(header))
    for name in variants:
        median, p90, fastest = summary(times[name])
        print(
            f"{name:<8} {median:8.1f} {p90:8.1f} {fastest:8.1f} "
            f"{statistics.median(cpu[name]) * 1000:8.1f} {peaks[name]:8.0f} MB"
        )
    print(f"(1-minute load average {load_before:.2f} before, {load_after:.2f} after)")
    if not can_reset:
        print("(peak RSS is the process-wide maximum: /proc/self/clear_refs unavailable)")

    thumb = next((workdir / "store-ingest" / "derivatives").rglob("*.jpg"))
    large_total = sum(p.stat().st_size for p in (workdir / "store-ingest").rglob("large/**/*.jpg"))
    print(
        f"\nDerivatives: large mean {large_total / len(photos) / 1e3:.0f} kB; "
        f"e.g. {thumb.relative_to(workdir)}"
    )
    target = 100.0
    median = summary(times["ingest"])[0]
    verdict = "meets" if median <= target else "MISSES"
    print(f"Upload path (ingest) median {median:.1f} ms {verdict} the {target:.0f} ms target.")


if __name__ == "__main__":
    main()
