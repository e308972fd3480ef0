"""Clinical time as the core writes it: the fast forms give exactly what the datetime forms give."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from triage.core import times
from triage.core.times import EPOCH, iso, to_micros, utc_date

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
