"""Clocks. The cores never read the time themselves: the shell passes ``now`` in.

``ScaledClock`` makes simulated time run ``scale`` times faster than real time from a shared ``origin``
(the instant at which simulated and real time agree). Every process given the same origin and scale
reads the same simulated time, so a 24 h deadline passes in 24 s at scale 3600 for the demo and tests,
and every timestamp stays coherent across services.
"""

from __future__ import annotations

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


def make_clock(scale: float, origin: datetime | None) -> Clock:
    if scale == 1.0:
        return SystemClock()
    return ScaledClock(origin or datetime.now(UTC), scale)
