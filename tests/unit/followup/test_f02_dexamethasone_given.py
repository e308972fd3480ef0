"""F2: after R1 (MSCC suspected), expect dexamethasone given within 4 hours.

Source: NICE NG234 (2023) 1.8.1 [S], offer dexamethasone 16 mg without delay; 4 h is a local audit
standard [S]. Chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, escalation, resolved, treatment

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "on_call_registrar", at(hours=4)), ("overdue", 2, "consultant", at(hours=6))]


@pytest.mark.parametrize("change", ["administered", "started", "dose_changed"])
def test_dexamethasone_in_time_sends_no_reminder(change: str) -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(treatment(at(hours=2), "corticosteroid", change, agent="Dexamethasone 16 mg"))
    p.run_until(at(days=1))
    assert p.reminders("F2") == []


def test_no_dexamethasone_alerts_then_escalates() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.run_until(at(days=1))
    assert p.reminders("F2") == NOT_MET


def test_dexamethasone_after_the_alert_stops_the_next_level() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.run_until(at(hours=4, minutes=30))
    p.receive(treatment(at(hours=5), "corticosteroid", "administered", agent="dexamethasone"))
    p.run_until(at(days=1))
    assert p.reminders("F2") == NOT_MET[:1]


@pytest.mark.parametrize("agent", [None, "hydrocortisone"])
def test_another_or_unnamed_corticosteroid_does_not_count(agent: str | None) -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(treatment(at(hours=1), "corticosteroid", "administered", agent=agent))
    p.run_until(at(days=1))
    assert p.reminders("F2") == NOT_MET


def test_a_course_started_before_the_red_flag_does_not_count() -> None:
    p = Patient()
    p.receive(treatment(at(days=-3), "corticosteroid", "started", agent="dexamethasone"))
    p.receive(escalation("R1"))
    p.run_until(at(days=1))
    assert p.reminders("F2") == NOT_MET


def test_resolution_cancels_it() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(resolved("R1", at(hours=3)))
    p.run_until(at(days=1))
    assert p.reminders("F2") == []
