"""ISO 8601 durations as the pathway writes them (``PT15M``, ``PT24H``, ``P7D``, ``P4W``).

Years and months are refused: their length depends on the calendar, and a clinical deadline must mean the
same number of hours whenever it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_PATTERN = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


@dataclass(frozen=True)
class Duration:
    """A duration with the text it was written as, so documents show what the clinician wrote."""

    text: str
    delta: timedelta

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> Duration:
    """Parse ``text`` or raise ``ValueError`` saying what is wrong with it."""
    date_part = text.split("T", 1)[0]
    if text.startswith("P") and re.search(r"\d+[YM]", date_part):
        raise ValueError(f"{text!r} uses years or months, whose length varies: write it in days or weeks")
    match = _PATTERN.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT15M, PT24H or P7D")
    parts = {name: float(value) for name, value in match.groupdict().items() if value is not None}
    delta = timedelta(
        weeks=parts.get("weeks", 0.0),
        days=parts.get("days", 0.0),
        hours=parts.get("hours", 0.0),
        minutes=parts.get("minutes", 0.0),
        seconds=parts.get("seconds", 0.0),
    )
    return Duration(text, delta)


def describe(delta: timedelta) -> str:
    """A duration in clinical words: ``15 min``, ``24 h``, ``5 days``, ``4 weeks``."""
    seconds = round(delta.total_seconds())
    week, day, hour = 7 * 86400, 86400, 3600
    if seconds >= 2 * week and seconds % week == 0:
        return f"{seconds // week} weeks"
    if seconds > 3 * day and seconds % day == 0:
        return f"{seconds // day} days"
    if seconds >= hour and seconds % hour == 0:
        return f"{seconds // hour} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
