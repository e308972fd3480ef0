"""The clock is a parameter, and configuration fails fast with the variable named."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from carepath.clock import ScaledClock, SystemClock, make_clock
from carepath.settings import CommonSettings, load

pytestmark = pytest.mark.unit


def test_scaled_clock_runs_scale_times_faster_from_a_shared_origin() -> None:
    origin = datetime.now(UTC) - timedelta(seconds=2)
    clock = ScaledClock(origin, 3600)
    elapsed = clock.now() - origin
    assert timedelta(hours=1.9) < elapsed < timedelta(hours=2.5)
    # A second process given the same origin and scale reads the same time.
    assert abs((ScaledClock(origin, 3600).now() - clock.now()).total_seconds()) < 60
    assert clock.real_seconds(timedelta(hours=24)) == 24.0


def test_scale_one_is_the_system_clock_and_bad_clocks_are_refused() -> None:
    assert isinstance(make_clock(1.0, None), SystemClock)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(datetime.now(UTC), 0)
    with pytest.raises(ValueError, match="timezone"):
        ScaledClock(datetime.now(), 2)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    monkeypatch.setenv("CAREPATH_BROKER_PROFILE", "embedded")
    monkeypatch.setenv("CAREPATH_TIME_SCALE", "60")
    s = CommonSettings()
    assert s.bootstrap_list == ["k1:9092", "k2:9093"]
    assert s.profile.fetch_max_wait_ms == 20
    assert isinstance(s.clock(), ScaledClock)


@pytest.mark.parametrize(
    ("var", "value", "named"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port", "KAFKA_BOOTSTRAP_SERVERS"),
        ("CAREPATH_BROKER_PROFILE", "rabbit", "CAREPATH_BROKER_PROFILE"),
        ("CAREPATH_TIME_SCALE", "-1", "CAREPATH_TIME_SCALE"),
        ("CAREPATH_TIME_ORIGIN", "2026-01-01T00:00:00", "CAREPATH_TIME_ORIGIN"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, named: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SystemExit) as stop:
        load(CommonSettings)
    assert named in str(stop.value)


def test_system_clock_is_aware_and_current() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and abs(now.timestamp() - time.time()) < 5
