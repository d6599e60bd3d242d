"""Benchmark: import of a generated 100,000-row file, on SQLite and PostgreSQL, side by side.

    .venv/bin/python bench/import_items.py [--n 100000] [--backends sqlite,postgresql]

Prints wall time, rows per second and peak memory (RSS) of each run. Each backend runs
in its own child process so their memory figures do not mix. Target: ≤ 60 s, memory
bounded (the file is streamed: peak RSS should not grow with N).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scratch import scratch_database  # noqa: E402


def child(backend: str, csv_path: str) -> None:
    from panel_tracker import create_app
    from panel_tracker.auth.services import create_panel
    from panel_tracker.cases.importer import import_items
    from panel_tracker.db import get_engine, get_session
    from panel_tracker.migrations import upgrade

    with scratch_database(backend, "bench-import") as (instance, url):
        app = create_app({"ENV": "test", "INSTANCE_PATH": instance, "DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade(get_engine())
            db = get_session()
            panel = create_panel(db, "YEM", "Bench panel")
            db.commit()
            start = time.perf_counter()
            report = import_items(db, panel, Path(csv_path), actor="bench")
            db.commit()
            elapsed = time.perf_counter() - start
            get_engine().dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"backend": backend, "rows": report.created, "cases": len(report.cases),
                      "seconds": round(elapsed, 1), "rows_per_s": round(report.created / elapsed),
                      "peak_rss_mb": round(peak_mb)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    csv_path = out / f"items_{args.n}.csv"
    if not csv_path.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--n", str(args.n), "--seed", "1",
                        "--out", str(csv_path)], check=True)
    print(f"import of {args.n:,} generated rows ({csv_path.stat().st_size / 1e6:.0f} MB); target ≤ 60 s")
    print(f"{'backend':<11} {'rows':>8} {'cases':>6} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12}")
    for backend in args.backends.split(","):
        result = subprocess.run([sys.executable, __file__, "--child", backend, str(csv_path)],
                                capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if result.returncode:
            print(f"{backend:<11} failed: {result.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{r['backend']:<11} {r['rows']:>8,} {r['cases']:>6,} {r['seconds']:>8} {r['rows_per_s']:>8,} {r['peak_rss_mb']:>12}")


if __name__ == "__main__":
    main()
