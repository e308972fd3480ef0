"""How busy the machine was during a phase, and how much of that was the bench's own processes.

The machine is often shared: a phase's figures mean little without knowing that others were using the
processors at the same time. Machine time comes from /proc/stat; the bench's own from getrusage (itself
plus every child it has waited for, which is every service and broker once the phase has stopped them).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field


def _machine() -> tuple[float, float]:
    """(busy, total) seconds of all processors since boot."""
    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0.0)  # idle + iowait
    return (sum(parts) - idle) / tick, sum(parts) / tick


def _ours() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class CpuWindow:
    """``start()`` before a phase, ``stop()`` after it has stopped its processes."""

    _busy: float = 0.0
    _total: float = 0.0
    _ours: float = 0.0
    _wall: float = field(default_factory=time.monotonic)

    def start(self) -> CpuWindow:
        self._busy, self._total = _machine()
        self._ours = _ours()
        self._wall = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        """Shares of all processors (100 = every processor busy) over the window."""
        try:
            busy, total = _machine()
        except OSError:
            return {}
        span = total - self._total
        if span <= 0:
            return {}
        machine = (busy - self._busy) / span * 100
        ours = (_ours() - self._ours) / span * 100
        return {
            "machine_busy_pct": round(machine, 1),
            "bench_pct": round(ours, 1),
            "others_pct": round(max(machine - ours, 0.0), 1),
        }
