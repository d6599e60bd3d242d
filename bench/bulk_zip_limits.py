"""Benchmark: the memory a ZIP of many empty members costs before it is refused.

    .venv/bin/python bench/bulk_zip_limits.py [--members 1500000]

Writes a ZIP64 of N empty members into a temporary folder (1.5 million, 133 MB, as in the
security issue), then, each in a fresh process so the peaks do not mix, measures peak RSS:

  baseline  the process after importing Panel Tracker's staging module
  ours      staging's check of the ZIP (end record first): refused with the message
  naive     zipfile.ZipFile(...).infolist(), what staging did before (the whole member list)

Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def write_empty_members_zip(path: Path, members: int) -> None:
    """A valid ZIP64 of ``members`` empty stored files, written directly (zipfile takes minutes)."""
    local, central = bytearray(), bytearray()
    for n in range(members):
        name = f"e/{n:07d}.jpg".encode()
        offset = len(local)
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0,
                               0, 0, offset) + name
    zip64_at = len(local) + len(central)
    with open(path, "wb") as f:
        f.write(local)
        f.write(central)
        f.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, members, members, len(central),
                            len(local)))
        f.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1))
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def measure(variant: str, path: Path) -> None:
    from panel_tracker.evidence.bulk.staging import Limits, _list_zip
    from panel_tracker.validation import Invalid

    started = time.perf_counter()
    outcome = ""
    if variant == "ours":
        try:
            _list_zip(path, path.name, "upload-1.zip", Limits(5000, 8 * 1024**3, 100, 80 * 1024**2), 0)
        except Invalid as exc:
            outcome = exc.errors["files"]
    elif variant == "naive":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            outcome = f"{len(archive.infolist()):,} members listed"
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{variant:9} peak RSS {peak:7,.0f} MB  {elapsed:6.2f} s  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--measure", nargs=2, metavar=("VARIANT", "ZIP"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="ZIP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    if args.write:
        write_empty_members_zip(Path(args.write), args.members)
        return
    with tempfile.TemporaryDirectory(prefix="pt-bench-zip-") as folder:
        path = Path(folder) / "day1.zip"
        # Written by another process: a child's peak RSS starts from its parent's at fork.
        subprocess.run([sys.executable, __file__, "--members", str(args.members), "--write", str(path)], check=True)
        print(f"{args.members:,} empty members, {path.stat().st_size / 1024**2:,.0f} MB")
        for variant in ("baseline", "ours", "naive"):
            subprocess.run([sys.executable, __file__, "--measure", variant, str(path)], check=True)


if __name__ == "__main__":
    main()
