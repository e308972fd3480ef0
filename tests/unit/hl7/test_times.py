"""HL7 timestamps: with an offset they are exact; without one they are the site's wall-clock time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from intake.hl7.times import format_ts, parse_date, parse_ts

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("20240501093000+0100", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("20240501093000-0500", datetime(2024, 5, 1, 14, 30, tzinfo=UTC)),
        ("20240501093000.1234+0000", datetime(2024, 5, 1, 9, 30, 0, 123400, tzinfo=UTC)),
        ("202405010930+0100", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("20240501093000", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),  # British Summer Time: UTC+1
        ("20240115093000", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),  # Greenwich Mean Time: UTC+0
        ("20240501", datetime(2024, 4, 30, 23, 0, tzinfo=UTC)),  # a date is its local midnight
        ("20240501093000^S", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),  # v2.3 degree of precision ignored
    ],
)
def test_instants(value: str, utc: datetime) -> None:
    assert parse_ts(value, LONDON) == utc


def test_the_site_timezone_is_a_setting() -> None:
    assert parse_ts("20240501093000", ZoneInfo("America/New_York")) == datetime(
        2024, 5, 1, 13, 30, tzinfo=UTC
    )


def test_an_ambiguous_autumn_hour_is_read_as_its_first_occurrence() -> None:
    assert parse_ts("20241027013000", LONDON) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["", "yesterday", "2024-05-01T09:30:00", "20240230", "20240501250000", "2024050109+9900"]
)
def test_what_is_not_a_timestamp_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match=r"timestamp|valid date|offset"):
        parse_ts(value, LONDON)


def test_birth_dates_are_calendar_dates() -> None:
    assert parse_date("19610314") == date(1961, 3, 14)
    assert parse_date("196103140000+0100") == date(1961, 3, 14)
    with pytest.raises(ValueError):
        parse_date("1961")


def test_ack_timestamps_are_utc_with_offset() -> None:
    assert format_ts(datetime(2024, 5, 1, 9, 30, tzinfo=LONDON)) == "20240501083000+0000"
