"""HL7 timestamps (TS/DTM): ``YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]``.

With an offset the instant is exact. Without one it is read as wall-clock time in the site's timezone
(``CAREPATH_SITE_TIMEZONE``), which knows when the clocks change; an ambiguous autumn hour is read as its
first occurrence. v2.3's degree-of-precision component (``^M``) is ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$")


def parse_ts(value: str, site: tzinfo) -> datetime:
    """The instant a timestamp names; ValueError naming the problem when it is not one."""
    text = value.split("^", 1)[0].strip()
    match = _TS.match(text)
    if not match:
        raise ValueError(f"{value!r} is not an HL7 timestamp (YYYYMMDDHHMM[SS][+ZZZZ])")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        local = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
        )
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date and time ({exc})") from None
    if (
        offset is None
    ):  # fixed to the offset in force then, so the instant never depends on the zone rules again
        aware = local.replace(tzinfo=site)
        return aware.astimezone(timezone(aware.utcoffset() or timedelta(0)))
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    if hours > 14 or minutes > 59:
        raise ValueError(f"{value!r} has an impossible UTC offset {offset}")
    return local.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def parse_date(value: str) -> date:
    """The calendar date at the start of a timestamp (a birth date): no timezone arithmetic."""
    text = value.split("^", 1)[0].strip()
    match = _TS.match(text)
    if not match or match.group(2) is None or match.group(3) is None:
        raise ValueError(f"{value!r} is not an HL7 date (YYYYMMDD)")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date ({exc})") from None


def format_ts(instant: datetime) -> str:
    """An instant as an HL7 DTM in UTC with its offset, e.g. ``20240501083000+0000`` (for the ACK's MSH-7)."""
    return instant.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
