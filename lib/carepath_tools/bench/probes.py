"""Watching a running service from outside: its memory (from /proc) and its counters (from /metrics)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx


def proc_status_mb(pid: int, field: str) -> float | None:
    """A ``kB`` line of /proc/<pid>/status in MB: VmHWM is the peak resident set, VmRSS the current one."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system processor seconds the process has used so far (all its threads)."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """Processor time used by named processes between ``start()`` and ``stop()``, per event handled."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self._start: dict[str, float | None] = {}
        self.used: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> CpuMeter:
        for name, pid in self.pids.items():
            before, after = self._start.get(name), cpu_seconds(pid)
            if before is not None and after is not None:
                self.used[name] = after - before
        return self

    def per_event_us(self, events: int) -> dict[str, float]:
        return {name: round(used / events * 1e6, 1) for name, used in self.used.items()} if events else {}


def peak_rss_mb(pid: int | None) -> float | None:
    return proc_status_mb(pid, "VmHWM") if pid else None


def counter_total(text: str, name: str, keep: Callable[[str], bool] = lambda labels: True) -> float:
    """Sum of the samples of ``name`` in Prometheus text whose label set (the ``{...}`` text) is kept."""
    total = 0.0
    prefix = name + "{"
    for line in text.splitlines():
        if line.startswith(prefix):
            labels, _, value = line[len(prefix) :].rpartition("} ")
            if keep(labels):
                total += float(value)
        elif line.startswith(name + " "):
            total += float(line.split()[1])
    return total


def type_in(types: Iterable[str]) -> Callable[[str], bool]:
    """A label filter keeping samples whose ``type`` label is one of ``types``."""
    wanted = {f'type="{t}"' for t in types}
    return lambda labels: any(part in wanted for part in labels.split(","))


def consumed(url: str, types: Iterable[str] | None = None, timeout: float = 5.0) -> float:
    """``carepath_events_consumed_total`` of the worker at ``url`` (only ``types`` when given)."""
    text = httpx.get(f"{url}/metrics", timeout=timeout).text
    keep = type_in(types) if types is not None else (lambda labels: True)
    return counter_total(text, "carepath_events_consumed_total", keep)


def gauge(url: str, name: str, timeout: float = 5.0) -> float:
    return counter_total(httpx.get(f"{url}/metrics", timeout=timeout).text, name)


class Sampler:
    """Samples ``read()`` every ``interval`` seconds in a thread: a list of (monotonic time, value)."""

    def __init__(self, read: Callable[[], float], interval: float = 0.25) -> None:
        self._read = read
        self._interval = interval
        self.samples: list[tuple[float, float]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                self.samples.append((t, self._read()))
            except (httpx.HTTPError, ValueError):
                self.errors += 1
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - t)))

    @property
    def last(self) -> float:
        return self.samples[-1][1] if self.samples else 0.0

    def wait_for(
        self, target: float, timeout: float, progress: Callable[[float], None] | None = None
    ) -> bool:
        """Block until a sample reaches ``target`` (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        next_report = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.last >= target:
                return True
            if progress and time.monotonic() >= next_report:
                progress(self.last)
                next_report += 5
            time.sleep(0.05)
        return self.last >= target

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
