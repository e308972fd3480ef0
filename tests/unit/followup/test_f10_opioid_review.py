"""F10: after a strong opioid is started or its dose changed, expect a pain and side-effect review
(a new pain report) within 72 hours.

Source: NICE CG140 (2012) 1.1.3, 1.1.6 [P], frequent review when starting or titrating strong opioids;
72 hours and the chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, pain, treatment

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "nurse", at(hours=72)), ("overdue", 2, "acute_oncology", at(hours=96))]


@pytest.mark.parametrize("change", ["started", "dose_changed"])
def test_pain_report_in_time_sends_no_reminder(change: str) -> None:
    p = Patient()
    p.receive(treatment(at(0), "strong_opioid", change, agent="morphine"))
    p.receive(pain(at(hours=24), nrs=4))
    p.run_until(at(days=7))
    assert p.reminders("F10") == []


def test_no_review_reminds_then_escalates() -> None:
    p = Patient()
    p.receive(treatment(at(0), "strong_opioid", "started"))
    p.run_until(at(days=7))
    assert p.reminders("F10") == NOT_MET


def test_review_after_the_reminder_stops_the_next_level() -> None:
    p = Patient()
    p.receive(treatment(at(0), "strong_opioid", "started"))
    p.run_until(at(hours=73))
    p.receive(pain(at(hours=74)))
    p.run_until(at(days=7))
    assert p.reminders("F10") == NOT_MET[:1]


def test_the_pain_report_that_led_to_the_change_is_not_the_review() -> None:
    p = Patient()
    p.receive(pain(at(0), nrs=8))
    p.receive(treatment(at(0), "strong_opioid", "started"))
    p.run_until(at(days=7))
    assert p.reminders("F10") == NOT_MET


def test_stopping_the_opioid_cancels_it() -> None:
    p = Patient()
    p.receive(treatment(at(0), "strong_opioid", "started"))
    p.receive(treatment(at(hours=10), "strong_opioid", "stopped"))
    p.run_until(at(days=7))
    assert p.reminders("F10") == []


def test_stopping_or_a_weak_opioid_does_not_open_it() -> None:
    p = Patient()
    p.receive(treatment(at(0), "weak_opioid", "started"))
    p.receive(treatment(at(0), "strong_opioid", "stopped"))
    assert "F10" not in p.open_rules()


def test_a_start_recorded_after_its_deadline_fires_at_the_next_tick_with_lateness() -> None:
    p = Patient()
    p.receive(treatment(at(0), "strong_opioid", "started"), now=at(days=5))
    fired = p.tick(at(days=5))
    assert [(r.level, r.lateness_seconds) for r in fired] == [(1, 48 * 3600.0), (2, 24 * 3600.0)]
    assert p.tick(at(days=6)) == []
