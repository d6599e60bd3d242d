"""Benchmark: an annex of 500 item sheets, 2 photographic photos each, built to PDF.

    .venv/bin/python bench/annex.py [--items 500] [--variants single,chunked] [--instance DIR]

Setup (not measured): a throw-away instance folder with SQLite, one panel, one case of N
items (fields and a marking each), each with two photographic JPEGs (gradients, shapes,
texture, sensor noise: ``tests/imagefactory.py``) of 2000x1500 received through the evidence
pipeline (``receive_photo``: store, hash, EXIF, real ``large`` derivatives). Sixteen base
pictures are drawn and each photo is a different crop, mirror and tint of one of them, so
all 2N photos are distinct without drawing 2N pictures. ``--instance DIR`` keeps the set-up
in DIR and reuses it on the next run (delete DIR to start over).

Then each variant runs in its own child process (so imports, caches and peak memory are
its own), stage by stage:

  compose        builds.quick_document (the case's annex, panel edition: everything, marked on every page)
  images+layout  print derivatives made from the ``large`` ones (print cache emptied first), and
                 WeasyPrint's layout of each chunk; they overlap, so they are timed together
  write          the chunks' pages put together, with footers and bookmarks

Since the print derivatives are made when a photo lands on an item (annexes/prints.py; the
set-up receives its photos through the same path, so it makes them), a first build finds
them made. Variants: ``ahead1`` and ``ahead2`` are that first build, as the photo store
is after the uploads, with one process or two (the default on two cores), and count the
derivatives the build had to make itself (0 when every one was ready); ``chunked1`` and
``chunked2`` empty the print cache first (an annex of photos from before, with no
``annex prepare-prints`` run): each chunk's photos made, then laid out, with two worker
processes laying out chunks while the next chunk's photos are made; ``warm1`` and ``warm2``
make every print derivative just before (not timed): WeasyPrint's layout and the joining
alone, the floor no photo work can lower;
``baseline`` runs another checkout's own bench (``--baseline DIR``: its ``chunked``
variant, with its own stage names) in the same run, for before/after; ``single`` is the
foundation's (one WeasyPrint document for the whole annex, 20 minutes). Peak memory is the
whole process tree's (the child and any workers it starts), sampled every 20 ms from /proc,
and the child's own high-water mark.
Targets (issue 12): ≤ 30 s, ≤ 600 MB, PDF ≤ 60 MB. Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from memory import peak_mb, tree_rss_mb  # noqa: E402

PANEL = "YEM"
CASE_REF = "YEM-2024-500"


def app_for(instance: Path):
    from panel_tracker import create_app

    return create_app({"ENV": "test", "INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance}/bench.db",
                       "SECRET_KEY": "bench", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024})


# ------------------------------------------------------------------ set-up


def set_up(instance: Path, n_items: int, width: int, height: int) -> None:
    from PIL import Image, ImageOps

    from panel_tracker.auth.services import add_member, create_panel
    from panel_tracker.cases.services import add_marking, create_case, create_item
    from panel_tracker.db import get_engine, get_session
    from panel_tracker.evidence.services import receive_photo
    from panel_tracker.migrations import upgrade
    from tests.imagefactory import photographic_image

    app = app_for(instance)
    start = time.perf_counter()
    with app.app_context():
        upgrade(get_engine())
        db = get_session()
        panel = create_panel(db, PANEL, "Bench panel")
        user, _ = add_member(db, panel, "expert@bench.example", "Expert", "expert", password="bench-password-123")
        case = create_case(db, panel, {"ref": CASE_REF, "title": "Weapons seized at the port of Nishtun"}, user)
        margin = 240
        bases = [photographic_image(width + margin, height + margin, seed=seed) for seed in range(16)]
        rng = random.Random(12)
        for number in range(1, n_items + 1):
            item = create_item(db, case, {
                "category": "small_arm", "type": "assault rifle", "quantity": 1, "model": "Type 56-1",
                "make_attributed": "Norinco", "calibre": "7.62 x 39 mm", "country_attributed": "CHN",
                "serial": f"2401{number:04d}", "serial_legibility": "intact",
                "notes": "Folding stock; receiver cover marked; recovered with two magazines."}, user)
            add_marking(db, item, {"text": f"2401{number:04d}", "kind": "serial"}, user)
            for side in range(2):
                base = bases[rng.randrange(len(bases))]
                x, y = rng.randrange(margin), rng.randrange(margin)
                picture = base.crop((x, y, x + width, y + height))
                if rng.random() < 0.5:
                    picture = ImageOps.mirror(picture)
                tint = Image.new("RGB", picture.size, tuple(rng.randrange(256) for _ in range(3)))
                picture = Image.blend(picture, tint, 0.08)
                buffer = io.BytesIO()
                picture.save(buffer, "JPEG", quality=90)
                buffer.seek(0)
                receive_photo(db, panel, buffer, filename=f"IMG_{number:04d}_{side}.jpg", actor=user,
                              case_id=case.id, item_id=item.id, caption=("Left side" if side == 0 else "Serial number"),
                              source_line="Panel, March 2024")
            if number % 50 == 0:
                db.commit()
                print(f"  set-up: {number} items, {time.perf_counter() - start:.0f} s", flush=True)
        db.commit()
        get_engine(app).dispose()
    large = list((instance / "photos").rglob("large/**/*.jpg")) if (instance / "photos").exists() else []
    if not large:
        large = [p for p in instance.rglob("*.jpg") if "large" in str(p)]
    size = sum(p.stat().st_size for p in large)
    print(f"Set-up done in {time.perf_counter() - start:.0f} s: {n_items} items, {2 * n_items} photos "
          f"{width}x{height}; {len(large)} large derivatives, mean {size / max(len(large), 1) / 1e3:.0f} kB", flush=True)


# ------------------------------------------------------------------ the child: one variant


def single_render(document, store, panel_code, timings):
    """The foundation's pdf.render (commit b14e1f5), stage by stage: one WeasyPrint
    document for the whole annex, print derivatives made one after the other."""
    from flask import current_app

    from panel_tracker.annexes import images, pdf

    def prepare():
        found = {}
        for image in pdf.iter_images(document):
            made = images.print_derivative(store, panel_code, image)
            if made is None:
                image["src"] = None
            else:
                path, size = made
                found[path.name] = (path, size)
                image["src"] = pdf.PHOTO_SCHEME + path.name
        return found

    # The foundation's encoding: every print derivative at quality 80, whatever it weighs.
    images.TRIAL_QUALITIES, images.MIN_QUALITY = (80,), 80
    shutil.rmtree(store.root / "print", ignore_errors=True)
    t = time.perf_counter()
    prepare()
    timings["images cold"] = time.perf_counter() - t
    t = time.perf_counter()
    allowed = prepare()
    timings["images warm"] = time.perf_counter() - t
    t = time.perf_counter()
    HTML, CSS = pdf._weasyprint()
    html = current_app.jinja_env.get_template("annexes/print.html").render(doc=document)
    fetcher = pdf._fetcher(store.root / "print" / panel_code, {name: path for name, (path, _) in allowed.items()})
    page = HTML(string=html, url_fetcher=fetcher, base_url=None)
    rendered = page.render(stylesheets=[CSS(filename=str(pdf.STYLESHEET))])
    timings["layout"] = time.perf_counter() - t
    t = time.perf_counter()
    data = rendered.write_pdf()
    timings["write"] = time.perf_counter() - t
    return data, len(rendered.pages)


def current_render(document, store, panel_code, timings, workers=1, cold=True):
    """pdf.render as it is now, with ``workers`` processes laying out chunks. A long annex's
    photos and layout overlap (each chunk's photos are made while the chunk before is laid
    out), so they are timed together ("images+layout", photos cold); "write" is putting the
    chunks together."""
    from panel_tracker.annexes import pdf

    if cold:
        shutil.rmtree(store.root / "print", ignore_errors=True)
    marks = {}

    def progress(stage, done, total):
        now = time.perf_counter()
        marks.setdefault(stage, [now, now])[1] = now

    t = time.perf_counter()
    data, pages = pdf.render(document, store, panel_code, progress, workers=workers)
    end = time.perf_counter()
    if "write" in marks:
        timings["images+layout"] = marks["write"][0] - t
        timings["write"] = end - marks["write"][0]
    else:
        timings["images+layout"] = end - t
    return data, pages


def _print_files(store) -> set[str]:
    root = store.root / "print"
    return {str(p) for p in root.rglob("*.jpg")} if root.exists() else set()


def child(variant: str, instance: Path, out: Path) -> None:
    from sqlmodel import select

    from panel_tracker.annexes import builds
    from panel_tracker.annexes.models import Edition
    from panel_tracker.auth.models import Panel
    from panel_tracker.cases.models import Case
    from panel_tracker.db import get_engine, get_session
    from panel_tracker.evidence.services import photo_store

    app = app_for(instance)
    with app.app_context():
        db = get_session()
        panel = db.exec(select(Panel).where(Panel.code == PANEL)).one()
        case = db.exec(select(Case).where(Case.ref == CASE_REF)).one()
        timings: dict[str, float] = {}
        if variant.startswith("warm"):  # the layout alone: every print derivative made beforehand, not timed
            from panel_tracker.annexes import pdf

            pdf.prepare_images(builds.quick_document(db, panel, case, Edition.PANEL), photo_store(), panel.code)
        before = _print_files(photo_store())
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        document = builds.quick_document(db, panel, case, Edition.PANEL)
        timings["compose"] = time.perf_counter() - t0
        store = photo_store()
        if variant == "single":
            data, pages = single_render(document, store, panel.code, timings)
        else:
            data, pages = current_render(document, store, panel.code, timings,
                                         workers=2 if variant.endswith("2") else 1,
                                         cold=variant.startswith("chunked"))
        timings["total"] = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        out.write_bytes(data)
        made_in_build = len(_print_files(store) - before) if not variant.startswith("chunked") else None
        get_engine(app).dispose()
    children = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    print(json.dumps({"timings": timings, "pages": pages, "bytes": len(data), "peak_self_mb": peak_mb(),
                      "made_in_build": made_in_build,
                      "cpu_s": cpu + children.ru_utime + children.ru_stime,
                      "peak_child_mb": children.ru_maxrss / 1024}))


# ------------------------------------------------------------------ the parent


def run_variant(variant: str, instance: Path, pdf_out: Path, baseline: Path | None = None) -> dict:
    script, child_variant = (baseline / "bench" / "annex.py", "chunked") if variant == "baseline" else (__file__, variant)
    proc = subprocess.Popen([sys.executable, str(script), "--child", child_variant, "--instance", str(instance),
                             "--pdf", str(pdf_out)], stdout=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"variant {variant} failed (exit {proc.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_tree_mb"] = peak[0]
    return result


def pdf_check(path: Path) -> str:
    """First and last page footers and bookmark count, read back with pdftotext / pypdf."""
    notes = []
    try:
        first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(path), "-"], capture_output=True,
                               text=True, timeout=60).stdout
        notes.append("p1 footer " + next((w for w in first.split() if "/" in w and w.split("/")[0].isdigit()), "?"))
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(path))

        def count(outline):
            return sum(count(o) if isinstance(o, list) else 1 for o in outline)

        notes.append(f"{count(reader.outline)} bookmarks")
    except ImportError:
        pass
    return ", ".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--height", type=int, default=1500)
    parser.add_argument("--variants", default="ahead2,chunked2",
                        help="single (the foundation's, 20 minutes), ahead1, ahead2 (workers), chunked1, chunked2, "
                             "warm1, warm2 "
                             "(the same with every print derivative made beforehand: the layout alone), baseline")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout: variant 'baseline' runs its bench/annex.py's own 'chunked' variant")
    parser.add_argument("--instance", type=Path, help="keep the set-up here and reuse it (default: a temp dir)")
    parser.add_argument("--keep-pdf", type=Path, help="copy each variant's PDF into this folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--pdf", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.instance, args.pdf)
        return

    instance = args.instance or Path(tempfile.mkdtemp(prefix="bench-annex-"))
    try:
        if not (instance / "bench.db").exists():
            instance.mkdir(parents=True, exist_ok=True)
            print(f"Setting up {args.items} items with 2 photos each in {instance} ...", flush=True)
            set_up(instance, args.items, args.width, args.height)
        else:
            print(f"Reusing the set-up in {instance}")
        print(f"{os.cpu_count()} CPUs; 1-minute load average {os.getloadavg()[0]:.2f} before")
        results = {}
        for variant in args.variants.split(","):
            pdf_out = instance / f"annex-{variant}.pdf"
            results[variant] = run_variant(variant, instance, pdf_out, args.baseline)
            results[variant]["check"] = pdf_check(pdf_out)
            if args.keep_pdf:
                args.keep_pdf.mkdir(parents=True, exist_ok=True)
                shutil.copy(pdf_out, args.keep_pdf / pdf_out.name)
            print(f"  {variant}: {results[variant]['timings']['total']:.1f} s", flush=True)
        print(f"1-minute load average {os.getloadavg()[0]:.2f} after\n")
        stages = ["compose", "images cold", "images warm", "layout", "images+layout", "write", "total"]
        header = f"{'variant':<9}" + "".join(f"{s:>13}" for s in stages) + f"{'CPU s':>8}{'pages':>7}{'pages/s':>9}" \
            f"{'peak MB':>9}{'(self)':>8}{'PDF MB':>8}{'made':>6}"
        print("Seconds per stage (total = compose + images cold + the rest); peak = the process tree's RSS; "
              "made = print derivatives the build made itself (all, when the cache was emptied)")
        print(header)
        print("-" * len(header))
        for variant, r in results.items():
            t = r["timings"]
            cells = "".join(f"{t[s]:>13.2f}" if s in t else f"{'-':>13}" for s in stages)
            print(f"{variant:<9}{cells}{r['cpu_s']:>8.1f}{r['pages']:>7}{r['pages'] / t['total']:>9.1f}"
                  f"{r['peak_tree_mb']:>9.0f}{r['peak_self_mb']:>8.0f}{r['bytes'] / 1e6:>8.1f}"
                  f"{'all' if r.get('made_in_build') is None else r['made_in_build']:>6}")
        for variant, r in results.items():
            if r["check"]:
                print(f"{variant}: {r['check']}")
        print("Targets: total ≤ 30 s, peak ≤ 600 MB, PDF ≤ 60 MB")
    finally:
        if not args.instance:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
