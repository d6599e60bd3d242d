"""Benchmark: render a case page listing all of its 500 items, each with a thumbnail.

    .venv/bin/python bench/case_page.py [--items 500] [--runs 20] [--backends sqlite,postgresql]

Builds a case of N items, each with one photo (small photographic JPEGs, so building is
quick; the page only links thumbnails, whose size does not change the page's work), then
times GET /cases/<id> through the real app (Flask test client: routing, access checks,
queries, template) on each backend, side by side. Target: ≤ 200 ms median.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import scratch_database  # noqa: E402


def build_and_time(backend: str, n_items: int, runs: int) -> dict:
    from panel_tracker import create_app
    from panel_tracker.auth.services import add_member, create_panel
    from panel_tracker.cases.services import add_marking, create_case, create_item
    from panel_tracker.db import get_engine, get_session
    from panel_tracker.evidence.services import receive_photo
    from panel_tracker.migrations import upgrade
    from tests.imagefactory import photographic_image

    with scratch_database(backend, "bench-case") as (instance, url):
        app = create_app({"ENV": "test", "INSTANCE_PATH": instance, "DATABASE_URL": url, "SECRET_KEY": "bench",
                          "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024})
        with app.app_context():
            upgrade(get_engine())
            db = get_session()
            panel = create_panel(db, "YEM", "Bench panel")
            user, _ = add_member(db, panel, "expert@bench.example", "Expert", "expert", password="bench-password-123")
            case = create_case(db, panel, {"ref": "YEM-2024-500", "title": "Large cache"}, user)
            base = photographic_image(320, 240, seed=1)
            for number in range(1, n_items + 1):
                item = create_item(db, case, {"category": "small_arm", "type": "assault rifle", "quantity": 1,
                                              "model": "Type 56-1", "serial": f"2401{number:04d}",
                                              "serial_legibility": "intact"}, user)
                add_marking(db, item, {"text": f"2401{number:04d}", "kind": "serial"}, user)
                picture = base.copy()
                picture.putpixel((number % 320, number // 320), (number % 255, 0, 0))  # distinct bytes
                buffer = io.BytesIO()
                picture.save(buffer, "JPEG", quality=80)
                buffer.seek(0)
                receive_photo(db, panel, buffer, filename=f"{number}.jpg", actor=user, case_id=case.id,
                              item_id=item.id)
            db.commit()
            case_id = case.id
        app.config["WTF_CSRF_ENABLED"] = False  # the login below is a plain POST
        client = app.test_client()
        client.post("/login", data={"email": "expert@bench.example", "password": "bench-password-123"})
        timings = []
        for _ in range(runs + 2):
            start = time.perf_counter()
            response = client.get(f"/cases/{case_id}")
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and response.data.count(b'class="thumb"') >= n_items
        timings = timings[2:]  # warm-up
        with app.app_context():
            get_engine(app).dispose()
        return {"backend": backend, "median": statistics.median(timings), "p90": sorted(timings)[int(0.9 * len(timings)) - 1],
                "min": min(timings), "kb": len(response.data) // 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"GET /cases/<id> with {args.items} items, each with a thumbnail; {args.runs} runs; target ≤ 200 ms median")
    print(f"{'backend':<11} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'page KB':>8}")
    for backend in args.backends.split(","):
        r = build_and_time(backend, args.items, args.runs)
        print(f"{r['backend']:<11} {r['median']:>10.1f} {r['p90']:>8.1f} {r['min']:>8.1f} {r['kb']:>8}")


if __name__ == "__main__":
    main()
