"""Clinical time as the core keeps it: whole microseconds since the Unix epoch, UTC.

Integers compare and subtract fast and survive a JSON round trip unchanged, so the patient state stores
every time this way. Times are written out as RFC 3339 with milliseconds and ``Z``, the one format
carepath publishes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # for writing times: UTC without an offset to replace by "Z"
MICROS_PER_SECOND: Final = 1_000_000
MICROS_PER_DAY: Final = 86_400 * MICROS_PER_SECOND

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_CALENDAR_DURATION = re.compile(r"^P(?:\d+Y|(?:\d+Y)?\d+M)")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 date-time with an offset, as an aware datetime in UTC. Raises ValueError."""
    if "t" in text or "z" in text:
        text = text.upper()
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment.astimezone(UTC)


def parse_micros(text: str) -> int:
    """``to_micros(parse_instant(text))``: the form carepath itself writes (``iso``, 24 characters, e.g.
    2024-05-01T08:30:00.000Z; intake writes every event time so) is read without making a datetime, any
    other by ``parse_instant``. Raises ValueError."""
    if (
        len(text) == 24
        and text[23] in "Zz"
        and text[10] in "Tt"
        and text[13] == ":"
        and text[16] == ":"
        and text[19] == "."
    ):
        day = text[:10]
        midnight = _MIDNIGHTS.get(day)
        if midnight is None:
            midnight = _midnight(day)
        hours = _digits(text, 11, 2)
        minutes = _digits(text, 14, 2)
        seconds = _digits(text, 17, 2)
        millis = _digits(text, 20, 3)
        if (
            midnight is not None
            and 0 <= hours < 24
            and 0 <= minutes < 60
            and 0 <= seconds < 60
            and millis >= 0
        ):
            return midnight + ((hours * 60 + minutes) * 60 + seconds) * MICROS_PER_SECOND + millis * 1000
    return to_micros(parse_instant(text))


_MIDNIGHTS: Final[dict[str, int]] = {}  # "YYYY-MM-DD" -> its midnight UTC (us); cleared at _DAYS_KEPT


def _midnight(day: str) -> int | None:
    """Midnight UTC (us) of a date written YYYY-MM-DD in ASCII digits, kept; None if it is not one."""
    year, month, mday = _digits(day, 0, 4), _digits(day, 5, 2), _digits(day, 8, 2)
    if year < 0 or month < 0 or mday < 0 or day[4] != "-" or day[7] != "-":
        return None
    try:
        midnight = (date(year, month, mday).toordinal() - _EPOCH_ORDINAL) * MICROS_PER_DAY
    except ValueError:
        return None
    if len(_MIDNIGHTS) >= _DAYS_KEPT:
        _MIDNIGHTS.clear()
    _MIDNIGHTS[day] = midnight
    return midnight


def _digits(text: str, start: int, count: int) -> int:
    """The number written in ASCII digits at ``text[start:start + count]``, or -1 if any is not one."""
    value = 0
    for i in range(start, start + count):
        digit = ord(text[i]) - 48
        if not 0 <= digit <= 9:
            return -1
        value = value * 10 + digit
    return value


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH  # normalised: only days may be negative
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


# Two- and three-digit fields of a time of day, written out once: ``iso`` joins strings (a ``%`` format of
# five numbers cost more than the rest of it).
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(60))
_THREE_DIGITS: Final = tuple(f"{n:03d}" for n in range(1000))
_DAYS: Final[dict[int, str]] = {}  # date parts written so far (cleared when it reaches _DAYS_KEPT)
_DAYS_KEPT: Final = 1 << 12


def iso(micros: int) -> str:
    """RFC 3339, millisecond precision (truncated), ``Z``: e.g. 2024-05-01T08:30:00.000Z."""
    days = micros // MICROS_PER_DAY
    millis = micros % MICROS_PER_DAY // 1000
    seconds = millis // 1000
    day = _DAYS.get(days)
    if day is None:
        day = _iso_day(days)
        if len(_DAYS) >= _DAYS_KEPT:
            _DAYS.clear()
        _DAYS[days] = day
    # an f-string of strings is one allocation compiled (CPyStr_Build); `+` made each partial string
    hh, mm, ss, mmm = (
        _TWO_DIGITS[seconds // 3600],
        _TWO_DIGITS[seconds // 60 % 60],
        _TWO_DIGITS[seconds % 60],
        _THREE_DIGITS[millis % 1000],
    )
    return f"{day}{hh}:{mm}:{ss}.{mmm}Z"


def _iso_day(days: int) -> str:
    """The date part of ``iso`` for a day since the epoch, with the ``T`` (OverflowError out of range)."""
    return (_NAIVE_EPOCH + timedelta(days=days)).date().isoformat() + "T"


@lru_cache(maxsize=64)
def iso_datetime(moment: datetime) -> str:
    """As ``iso``, for an aware datetime (kept: the same ``now`` stamps every escalation of a batch)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_EPOCH_ORDINAL: Final = EPOCH.toordinal()


def utc_date(micros: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + micros // MICROS_PER_DAY)


# A calendar date as one number, year * 10000 + month * 100 + day (2024-02-29 is 20240229): two such
# numbers subtract to whole years as ``(later - earlier) // 10000``, the month and day deciding whether the
# last year is complete, with no date object made.
_DATE_NUMBERS: Final[dict[int, int]] = {}  # day since the epoch -> its date number (cleared at _DAYS_KEPT)


def utc_date_number(micros: int) -> int:
    """The date number of the UTC date of ``micros``."""
    days = micros // MICROS_PER_DAY
    number = _DATE_NUMBERS.get(days)
    if number is None:
        number = date_number(date.fromordinal(_EPOCH_ORDINAL + days))
        if len(_DATE_NUMBERS) >= _DAYS_KEPT:
            _DATE_NUMBERS.clear()
        _DATE_NUMBERS[days] = number
    return number


def date_number(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def parse_date_number(text: str) -> int:
    """The date number of a date written as ``date.fromisoformat`` reads it (YYYY-MM-DD read without making a
    date). Raises ValueError."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        year, month, mday = _digits(text, 0, 4), _digits(text, 5, 2), _digits(text, 8, 2)
        if year >= 1 and 1 <= month <= 12 and 1 <= mday <= 28:  # every month has a 28th
            return year * 10000 + month * 100 + mday
    return date_number(date.fromisoformat(text))


def whole_years(born: int, on: int) -> int:
    """Whole years from one date number to a later one (a birthday on 29 February counts from 1 March in
    years without one)."""
    return (on - born) // 10000


def parse_duration(text: str) -> int:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds, as microseconds.

    Years and months are refused: their length depends on the calendar, and a clinical deadline must
    mean the same number of hours whenever it starts. Raises ValueError naming the problem.
    """
    match = _DURATION.match(text)
    if match is None:
        if _CALENDAR_DURATION.match(text):
            raise ValueError(f"{text!r} uses years or months; write it in weeks or days (e.g. P4W, P30D)")
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT1H, P7D or P4W")
    parts = {name: int(value) for name, value in match.groupdict().items() if value is not None}
    if not any(parts.values()):
        raise ValueError(f"{text!r} is a zero duration")
    seconds = (
        parts.get("weeks", 0) * 7 * 86_400
        + parts.get("days", 0) * 86_400
        + parts.get("hours", 0) * 3_600
        + parts.get("minutes", 0) * 60
        + parts.get("seconds", 0)
    )
    return seconds * MICROS_PER_SECOND


def describe_duration(micros: int) -> str:
    """A duration in words for evidence and documents: '1 hour', '24 hours', '7 days', '4 weeks'."""
    seconds = micros // MICROS_PER_SECOND
    hours, days, weeks = seconds / 3_600, seconds / 86_400, seconds / (7 * 86_400)
    if seconds % (7 * 86_400) == 0 and weeks >= 2:
        return _count(int(weeks), "week")
    if seconds % 86_400 == 0 and days >= 2:
        return _count(int(days), "day")
    if seconds % 3_600 == 0 and hours >= 1:
        return _count(int(hours), "hour")
    if seconds % 60 == 0 and seconds >= 60:
        return _count(seconds // 60, "minute")
    return _count(seconds, "second")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'s' if n != 1 else ''}"
