"""The clock is a parameter, and configuration fails fast with the variable named."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carepath.clock import ScaledClock, SteeredClock, SystemClock, make_clock, real_delay, steer
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
        ("CAREPATH_GC_THRESHOLDS", "[0,10,10]", "CAREPATH_GC_THRESHOLDS"),
        ("CAREPATH_GC_THRESHOLDS", "[700,10]", "CAREPATH_GC_THRESHOLDS"),
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


def test_a_steered_clock_stands_still_jumps_and_runs_as_its_anchor_file_says(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    at = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    steer(path, at)
    clock = SteeredClock(path)
    assert clock.now() == at
    time.sleep(0.02)
    assert clock.now() == at  # scale 0: stands still however long the services take
    later = at + timedelta(days=3, minutes=5)
    steer(path, later)
    assert SteeredClock(path).now() == later and clock.now() == later  # every reader sees the jump
    steer(path, later, scale=3600)
    time.sleep(0.05)
    assert later + timedelta(seconds=100) < clock.now() < later + timedelta(hours=1)
    path.write_text("{half a wri")  # a reader catching a write half done keeps the last anchor
    assert clock.now() > later
    with pytest.raises(ValueError, match="clock file"):
        SteeredClock(path)


def test_real_delay_is_how_long_to_sleep_for_a_deadline_on_each_clock(tmp_path: Path) -> None:
    assert real_delay(SystemClock(), 90.0) == 90.0
    assert real_delay(ScaledClock(datetime.now(UTC), 3600), 7200.0) == 2.0
    path = tmp_path / "clock.json"
    steer(path, datetime(2025, 1, 1, tzinfo=UTC))  # standing still: no deadline comes by waiting
    clock = SteeredClock(path)
    assert real_delay(clock, 60.0) is None
    steer(path, datetime(2025, 1, 1, tzinfo=UTC), scale=60)  # the same reader sees the replay run on
    assert real_delay(clock, 60.0) == 1.0

    class Frozen:
        def now(self) -> datetime:
            return datetime(2025, 1, 1, tzinfo=UTC)

    assert real_delay(Frozen(), 60.0) is None  # a clock it cannot read ahead


def test_a_steered_clock_is_chosen_by_its_file_and_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "clock.json"
    steer(path, datetime(2025, 1, 1, tzinfo=UTC))
    monkeypatch.setenv("CAREPATH_TIME_FILE", str(path))
    monkeypatch.setenv("CAREPATH_ENVIRONMENT", "test")
    assert isinstance(CommonSettings().clock(), SteeredClock)
    monkeypatch.setenv("CAREPATH_ENVIRONMENT", "production")
    with pytest.raises(SystemExit) as stop:
        load(CommonSettings)
    assert "CAREPATH_TIME_FILE" in str(stop.value)
