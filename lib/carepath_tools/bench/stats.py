"""Plain statistics for the bench: percentiles, summaries and rates. Pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    The same definition as numpy's default: the 50th of [1, 2, 3, 4] is 2.5, the 100th is the maximum.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def as_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {
            "count": self.count,
            "p50": round(self.p50, digits),
            "p95": round(self.p95, digits),
            "p99": round(self.p99, digits),
            "max": round(self.max, digits),
            "mean": round(self.mean, digits),
        }


def summarise(values: Sequence[float]) -> Summary | None:
    """p50/p95/p99/max/mean of ``values``, or None when there are none."""
    if not values:
        return None
    return Summary(
        count=len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=float(max(values)),
        mean=sum(values) / len(values),
    )


def rate(count: float, seconds: float) -> float:
    """Events per second; 0 when nothing was timed."""
    return count / seconds if seconds > 0 else 0.0


def combined_rate(*rates: float) -> float:
    """The rate of doing every step once per message, one after the other (1 / sum of 1/rate).

    Producing at 30k/s and consuming at 120k/s leaves 24k/s for a process that must do both.
    """
    if not rates or any(r <= 0 for r in rates):
        return 0.0
    return 1.0 / sum(1.0 / r for r in rates)


def drain_rate(samples: Sequence[tuple[float, float]], total: float) -> tuple[float, float] | None:
    """From ``(time, count)`` samples of a growing counter, the rate while it climbed to ``total``.

    Timed from the last sample still at the starting count (work had not begun, or had just begun) to
    the first sample at or above ``total``, so start-up before the first event does not count. Returns
    ``(rate, seconds)``, or None when the counter never reached ``total`` (see :func:`partial_rate`).
    """
    if not samples:
        return None
    start_count = samples[0][1]
    t_start = samples[0][0]
    for t, c in samples:
        if c <= start_count:
            t_start = t
            continue
        if c >= total:
            seconds = t - t_start
            return rate(c - start_count, seconds), seconds
    return None


def partial_rate(samples: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Rate over the climbing part of the samples (from the last idle sample to the last sample)."""
    if len(samples) < 2:
        return 0.0, 0.0
    start_count = samples[0][1]
    t_start = samples[0][0]
    for t, c in samples:
        if c > start_count:
            break
        t_start = t
    t_end, c_end = samples[-1]
    seconds = t_end - t_start
    return rate(c_end - start_count, seconds), seconds
