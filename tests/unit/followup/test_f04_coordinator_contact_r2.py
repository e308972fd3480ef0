"""F4: after R2 (spinal metastases suspected), expect the MSCC coordinator contacted within 24 hours.

Source: NICE CG75 (2008) 1.1 [P]. Chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, care_step, escalation, resolved

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "mscc_coordinator", at(hours=24)), ("overdue", 2, "consultant", at(hours=36))]


def test_contact_in_time_sends_no_reminder() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(care_step(at(hours=20), "mscc_coordinator_contacted"))
    p.run_until(at(days=3))
    assert p.reminders("F4") == []


def test_no_contact_escalates_then_stops() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.run_until(at(days=5))
    assert p.reminders("F4") == NOT_MET


def test_contact_after_level_1_stops_level_2() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.run_until(at(hours=25))
    p.receive(care_step(at(hours=26), "mscc_coordinator_contacted"))
    p.run_until(at(days=5))
    assert p.reminders("F4") == NOT_MET[:1]


def test_resolution_cancels_it() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(resolved("R2", at(hours=10)))
    p.run_until(at(days=5))
    assert p.reminders("F4") == []


def test_only_r2_opens_it() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    assert "F4" not in p.open_rules()
