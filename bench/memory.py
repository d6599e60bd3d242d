"""Memory figures for the benchmarks, read from Linux's /proc (ru_maxrss where it is missing)."""
from __future__ import annotations

import os
import resource


def _status(field: str, pid: int | str = "self") -> float | None:
    """``field`` (``VmRSS``, ``VmHWM``) of ``pid`` in MB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def peak_mb() -> float:
    """This process's peak resident memory since it started or since :func:`reset_peak`."""
    peak = _status("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Start :func:`peak_mb` again from the current resident memory (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    """This process's resident memory now."""
    return _status("VmRSS") or 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, now."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        total += _status("VmRSS", p) or 0.0
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return total
