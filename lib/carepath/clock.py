"""Clocks. The cores never read the time themselves: the shell passes ``now`` in.

``ScaledClock`` makes simulated time run ``scale`` times faster than real time from a shared ``origin``
(the instant at which simulated and real time agree). Every process given the same origin and scale
reads the same simulated time, so a 24 h deadline passes in 24 s at scale 3600 for the demo and tests,
and every timestamp stays coherent across services.

``SteeredClock`` is a scaled clock whose anchor a replay moves: a small JSON file
(``{"simulated": ISO instant, "real": epoch seconds, "scale": float}``) shared by every process, re-read
when it changes. With scale 0 simulated time stands still while the replay sends a step and waits for
the services to finish with it, then jumps to the next step or deadline, so the times the services stamp
on their outputs do not depend on how busy the machine is. Only outside production.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    def __init__(self, origin: datetime, scale: float) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        if origin.tzinfo is None:
            raise ValueError("clock origin must be timezone-aware")
        self.origin = origin
        self.scale = scale
        self._origin_ts = origin.timestamp()

    def now(self) -> datetime:
        elapsed = time.time() - self._origin_ts
        return self.origin + timedelta(seconds=elapsed * self.scale)

    def real_seconds(self, simulated: timedelta) -> float:
        return simulated.total_seconds() / self.scale


class SteeredClock:
    """Simulated time read from an anchor file that another process moves (see the module text)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._stamp: tuple[int, int] | None = None
        self._simulated = 0.0
        self._real = 0.0
        self._scale = 0.0
        self._read()

    def _read(self) -> None:
        st = os.stat(self.path)
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with open(self.path, encoding="utf-8") as f:
            text = f.read()
        try:
            anchor = json.loads(text)
            simulated = datetime.fromisoformat(anchor["simulated"])
            if simulated.tzinfo is None:
                raise ValueError("simulated instant without a timezone")
            real, scale = float(anchor["real"]), float(anchor["scale"])
            if scale < 0:
                raise ValueError("negative scale")
        except (ValueError, KeyError, TypeError) as exc:
            if self._stamp is None:
                raise ValueError(f"clock file {self.path}: {exc}") from exc
            return  # caught mid-write: keep the last anchor, read again next time
        self._stamp = stamp
        self._simulated, self._real, self._scale = simulated.timestamp(), real, scale

    def scale(self) -> float:
        """Simulated seconds per real second now (0 while the replay holds time still)."""
        self._read()
        return self._scale

    def now(self) -> datetime:
        self._read()
        at = self._simulated + max(time.time() - self._real, 0.0) * self._scale
        return datetime.fromtimestamp(at, UTC)


def steer(path: str | os.PathLike[str], simulated: datetime, scale: float = 0.0) -> None:
    """Move a :class:`SteeredClock`'s anchor: simulated time is ``simulated`` now, running ``scale``x."""
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"simulated": simulated.isoformat(), "real": time.time(), "scale": scale}, f)
    os.replace(tmp, path)


def real_delay(clock: Clock, simulated_s: float) -> float | None:
    """Real seconds until ``clock`` has moved on by ``simulated_s``: how long to sleep for a deadline that
    far ahead. ``None`` when it cannot be told (a steered clock standing still, whose anchor another
    process moves; a clock of another kind)."""
    if isinstance(clock, SystemClock):
        return simulated_s
    if isinstance(clock, ScaledClock):
        return clock.real_seconds(timedelta(seconds=simulated_s))
    if isinstance(clock, SteeredClock):
        scale = clock.scale()
        return simulated_s / scale if scale > 0 else None
    return None


def make_clock(scale: float, origin: datetime | None, steered_by: str | None = None) -> Clock:
    if steered_by:
        return SteeredClock(steered_by)
    if scale == 1.0:
        return SystemClock()
    return ScaledClock(origin or datetime.now(UTC), scale)
