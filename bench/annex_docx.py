"""Benchmark: the DOCX writer on one annex of N item sheets with 2 photographic photos each.

    .venv/bin/python bench/annex_docx.py [--sheets 500] [--photos-per-sheet 2]

Builds a document in the shape ``compose.py`` makes (fields table, markings table, a
figure of two photos side by side, a withheld note) for sheets of distinct photos, writes
each photo's ``large`` derivative (1600 px, photo-like: gradients, texture, noise) into a
temporary photo store, then times ``docx_writer.render``: the print derivatives are made
in a first run (``cold``) and reused in a second (``warm``). Prints wall and CPU time, the
file's size, and RSS before each run and at its peak (the high-water mark is reset before
each run, on Linux). No database, no Flask app: the writer alone. Prints figures; it is
not a test.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import io
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import ImageDraw  # noqa: E402

from panel_tracker.annexes import blocks, docx_writer  # noqa: E402
from panel_tracker.evidence.storage import PhotoStore, atomic_write  # noqa: E402
from tests.imagefactory import photographic_image  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from memory import peak_mb, reset_peak, rss_mb  # noqa: E402

PANEL = "YEM"


def make_photos(store: PhotoStore, count: int) -> list[str]:
    """``count`` distinct 1600 x 1200 large derivatives; their SHA-256s."""
    bases = [photographic_image(1600, 1200, seed=seed) for seed in range(8)]
    shas = []
    for n in range(count):
        image = bases[n % len(bases)].copy()
        draw = ImageDraw.Draw(image)
        draw.rectangle((40 + n % 700, 60 + n % 500, 240 + n % 700, 160 + n % 500), fill=(n % 251, 90, 200))
        draw.text((80, 80), f"photo {n}", fill=(255, 255, 255))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        path = store.derivative_path(PANEL, sha, "large")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(data)
        shas.append(sha)
    return shas


def document(shas: list[str], sheets: int, per_sheet: int) -> dict:
    box = blocks.image_box_mm(per_sheet, sheet=True)
    parts = []
    for n in range(sheets):
        ref = f"YEM-2024-009/{n + 1:03d}"
        images = []
        for k in range(per_sheet):
            width, height = 1600, 1200
            scale = min(box[0] / width, box[1] / height)
            images.append({"sha256": shas[n * per_sheet + k], "width_mm": round(width * scale, 1),
                           "height_mm": round(height * scale, 1), "boxes": [[0.2, 0.3, 0.25, 0.1]] if k == 0 else [],
                           "caption": f"({'ab'[k]}) Receiver, {'left' if k == 0 else 'right'} side",
                           "alt": f"({'ab'[k]}) Receiver"})
        parts.append({
            "kind": "item_sheet", "heading": f"{ref}: assault rifle, Type 56-1", "caption": "",
            "fields": [["Reference", f"{ref} (case YEM-2024-009)"], ["Category", "Small arm"],
                       ["Type", "assault rifle"], ["Make as marked", "Factory 66"], ["Model", "Type 56-1"],
                       ["Calibre", "7.62x39mm"], ["Country of manufacture as marked", "China"],
                       ["Serial number as read", f"56-{104417 + n}"], ["Quantity", "1"],
                       ["Condition", "Serviceable"], ["Recovered on", "March 2024"],
                       ["Recovered at", "Al Hudaydah"]],
            "markings": {"kind": "table", "label": "", "title": "Markings",
                         "columns": ["Marking as read", "Kind", "Location", "Script"],
                         "rows": [[f"56-{104417 + n}", "Serial", "receiver", "Latin"],
                                  ["صنع في الصين", "Other", "receiver", "Arabic"],
                                  ["66", "Factory code", "receiver", "Latin"]],
                         "source": "", "notes": [], "summary": ""},
            "figure": {"kind": "figure", "label": f"Figure 1.{n + 1}", "title": f"{ref}: assault rifle, Type 56-1",
                       "images": images, "source": "Source: Panel, 12 March 2024", "notes": []},
            "notes": ["1 marking withheld from this edition."]})
    return {"version": 1, "title": "Final report 2025", "panel": "Panel of Experts on Yemen",
            "report": {"title": "Final report 2025", "kind": "Final report", "symbol": "S/2025/123",
                       "cut_off": "2024-12-31"},
            "edition": "committee", "edition_label": "Committee edition",
            "marking": "COMMITTEE ONLY — NOT FOR PUBLICATION",
            "annexes": [{"number": 1, "title": "Item sheets", "withheld": False, "intro": [], "parts": parts,
                         "item_ids": [], "note": ""}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sheets", type=int, default=500)
    parser.add_argument("--photos-per-sheet", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = PhotoStore(Path(folder) / "photos")
        started = time.perf_counter()
        shas = make_photos(store, args.sheets * args.photos_per_sheet)
        print(f"made {len(shas)} large derivatives in {time.perf_counter() - started:.1f} s "
              f"(setup, not timed below); peak RSS so far {peak_mb():.0f} MB")
        doc = document(shas, args.sheets, args.photos_per_sheet)
        for run in ("cold", "warm"):
            gc.collect()
            before = rss_mb()
            reset_peak()
            started, cpu = time.perf_counter(), time.process_time()
            data, _ = docx_writer.render(doc, store, PANEL)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"{run}: {args.sheets} sheets, {len(shas)} photos: {took:.1f} s wall, {cpu:.1f} s CPU "
                  f"({args.sheets / took:.0f} sheets/s), {len(data) / 1e6:.1f} MB; RSS {before:.0f} MB before, "
                  f"peak {peak_mb():.0f} MB")
            del data


if __name__ == "__main__":
    main()
