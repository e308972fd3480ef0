"""Clinical time as the core writes it: the fast forms give exactly what the datetime forms give."""

from __future__ import annotations

import calendar
import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from triage.core import times
from triage.core.times import EPOCH, iso, parse_instant, parse_micros, to_micros, utc_date

pytestmark = pytest.mark.unit

MICROS = [
    0,
    1,
    -1,
    999,
    1_000,
    -1_500,
    86_400_000_000 - 1,
    86_400_000_000,
    -86_400_000_000,
    -86_400_000_001,
    1_748_831_807_823_456,  # 2025-06-02T02:36:47.823456Z
    951_782_400_000_000,  # 2000-02-29T00:00:00Z
    253_402_300_799_999_999,  # the last microsecond of 9999
]


@pytest.mark.parametrize("micros", MICROS)
def test_iso_is_rfc3339_utc_with_milliseconds_truncated(micros: int) -> None:
    moment = EPOCH + timedelta(microseconds=micros)
    assert iso(micros) == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_iso_examples() -> None:
    assert iso(1_748_831_807_823_456) == "2025-06-02T02:36:47.823Z"
    assert iso(-1) == "1969-12-31T23:59:59.999Z"


@pytest.mark.parametrize("micros", MICROS)
def test_utc_date_is_the_date_in_utc(micros: int) -> None:
    assert utc_date(micros) == (EPOCH + timedelta(microseconds=micros)).date()


def test_utc_date_just_before_and_after_midnight() -> None:
    midnight = int((datetime(2024, 3, 1, tzinfo=UTC) - EPOCH).total_seconds()) * 1_000_000
    assert str(utc_date(midnight - 1)) == "2024-02-29"
    assert str(utc_date(midnight)) == "2024-03-01"


def test_iso_matches_the_datetime_form_over_many_times() -> None:
    """Every year from 1 to 9999 and times around the epoch, including the first microsecond of year 1."""
    rng = random.Random(3)
    first, last = -62_135_596_800_000_000, 253_402_300_799_999_999
    samples = [first, last, *(rng.randrange(first, last) for _ in range(20_000))]
    samples += [rng.randrange(-(10**12), 10**12) for _ in range(5_000)]
    for micros in samples:
        moment = EPOCH + timedelta(microseconds=micros)
        assert iso(micros) == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), micros


@pytest.mark.parametrize("micros", [-62_135_596_800_000_001, 253_402_300_800_000_000])
def test_iso_out_of_range_raises_as_the_datetime_form_does(micros: int) -> None:
    with pytest.raises(OverflowError):
        iso(micros)


def test_to_micros_is_the_exact_number_of_microseconds_since_the_epoch() -> None:
    rng = random.Random(4)
    first, last = -62_135_596_800_000_000, 253_402_300_799_999_999
    for micros in [first, last, 0, -1, 1, *(rng.randrange(first, last) for _ in range(20_000))]:
        moment = EPOCH + timedelta(microseconds=micros)
        assert to_micros(moment) == micros == (moment - EPOCH) // timedelta(microseconds=1)
    offset = timezone(timedelta(hours=-5, minutes=-30))
    moment = datetime(2024, 5, 1, 8, 30, 0, 123_456, tzinfo=offset)
    assert to_micros(moment) == (moment - EPOCH) // timedelta(microseconds=1)


def test_the_date_parts_kept_by_iso_stay_bounded() -> None:
    """``iso`` keeps the date parts it has written, for the days a patient's facts come from; a long
    stream of other days never grows that beyond its bound, and every time stays right as it is cleared."""
    day = 86_400_000_000
    for n in range(times._DAYS_KEPT * 2 + 7):
        micros = n * day + 45_296_789_000  # 12:34:56.789
        assert (
            iso(micros)
            == (EPOCH + timedelta(microseconds=micros)).isoformat(timespec="milliseconds")[:-6] + "Z"
        )
        assert len(times._DAYS) <= times._DAYS_KEPT


def _reference(text: str) -> int | None:
    try:
        return to_micros(parse_instant(text))
    except ValueError:
        return None


def _ours(text: str) -> int | None:
    try:
        return parse_micros(text)
    except ValueError:
        return None


def test_parse_micros_reads_the_written_form_as_the_datetime_parser_does() -> None:
    """``parse_micros`` reads carepath's own 24-character form without a datetime: over random times of
    every year, and each with one character changed (other digits, letters, separators, a non-ASCII
    digit), it gives what ``to_micros(parse_instant(...))`` gives, or refuses what that refuses."""
    rng = random.Random(6)
    first, last = -62_135_596_800_000_000, 253_402_300_799_999_999
    replacements = "0123456789:-.TtZz+ x\u0663"
    checked = refused = 0
    for micros in [first, last, 0, -1, *(rng.randrange(first, last) for _ in range(20_000))]:
        text = iso(micros)
        assert parse_micros(text) == micros // 1000 * 1000 == _reference(text)
        for _ in range(3):
            i = rng.randrange(len(text))
            changed = text[:i] + rng.choice(replacements) + text[i + 1 :]
            ours = _ours(changed)
            assert ours == _reference(changed), changed
            checked += 1
            refused += ours is None
    assert checked == 60_012 and 5_000 < refused < checked  # both kinds are exercised


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-29T23:59:59.999Z",  # a leap day
        "2023-02-29T10:00:00.000Z",  # not a date
        "2024-05-01T24:00:00.000Z",
        "2024-05-01T10:60:00.000Z",
        "2024-05-01T10:00:60.000Z",
        "2024-05-01t10:00:00.000z",
        "0000-05-01T10:00:00.000Z",
        "2024-05-01T10:00:00.000+00:00",  # another form: read by parse_instant
        "2024-05-01T12:00:00.000+02:00",
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00.123456789Z",
        "2024-05-01T10:00:00.000",  # no offset
        "2024-\u06605-01T10:00:00.000Z",  # an Arabic-Indic digit
    ],
)
def test_parse_micros_examples(text: str) -> None:
    assert _ours(text) == _reference(text)


def test_the_midnights_kept_by_parse_micros_stay_bounded() -> None:
    for n in range(times._DAYS_KEPT * 2 + 7):
        text = iso(n * 86_400_000_000 + 1_000)
        assert parse_micros(text) == n * 86_400_000_000 + 1_000
        assert len(times._MIDNIGHTS) <= times._DAYS_KEPT


def _years_by_dates(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_whole_years_between_date_numbers_as_between_dates() -> None:
    """Ages as whole years: the date numbers give what the calendar gives, over random pairs of dates and
    every birthday edge (the day before, of and after; 29 February in leap and other years)."""
    rng = random.Random(5)
    first, last = date(1, 1, 1).toordinal(), date(9999, 12, 31).toordinal()
    pairs = []
    for _ in range(20_000):
        a, b = sorted((rng.randint(first, last), rng.randint(first, last)))
        pairs.append((date.fromordinal(a), date.fromordinal(b)))
    for born in (date(2000, 2, 29), date(1999, 3, 1), date(1980, 12, 31), date(1990, 1, 1)):
        for year in range(born.year, born.year + 9):
            for month, day in ((2, 28), (3, 1), (born.month, born.day)):
                if (month, day) == (2, 29) and not calendar.isleap(year):
                    continue
                on = date(year, month, day)
                pairs += [(born, on), (born, on + timedelta(days=1))]
                if on - timedelta(days=1) >= born:
                    pairs.append((born, on - timedelta(days=1)))
    for born, on in pairs:
        got = times.whole_years(times.parse_date_number(born.isoformat()), times.date_number(on))
        assert got == _years_by_dates(born, on), (born, on)


def test_parse_date_number_reads_what_fromisoformat_reads() -> None:
    rng = random.Random(6)
    days = [date.fromordinal(rng.randint(1, date(9999, 12, 31).toordinal())) for _ in range(20_000)]
    for day in days:
        assert times.parse_date_number(day.isoformat()) == day.year * 10000 + day.month * 100 + day.day
    assert times.parse_date_number("20240229") == 20240229  # a form fromisoformat also reads
    for bad in (
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-01-32",
        "2024-1-01",
        "2024-01-0x",
        "",
        "0000-01-01",
    ):
        with pytest.raises(ValueError):
            times.parse_date_number(bad)


@pytest.mark.parametrize("micros", MICROS)
def test_utc_date_number_is_the_date_in_utc(micros: int) -> None:
    assert times.utc_date_number(micros) == times.date_number(utc_date(micros))


def test_utc_date_numbers_kept_stay_bounded() -> None:
    for days in range(times._DAYS_KEPT * 2 + 7):
        times.utc_date_number(days * times.MICROS_PER_DAY)
    assert 0 < len(times._DATE_NUMBERS) <= times._DAYS_KEPT
