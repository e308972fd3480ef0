"""F5: after R2 (spinal metastases suspected), expect a whole-spine MRI and a treatment plan within
1 week; remind on day 5, escalate on day 7.

Source: NICE QS56 (2023) quality statement 2 [P]. Day-5 reminder and chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, acknowledgement, at, care_step, escalation, imaging

pytestmark = pytest.mark.unit

NOT_MET = [
    ("warning", 1, "mscc_coordinator", at(days=5)),
    ("overdue", 1, "mscc_coordinator", at(days=7)),
    ("overdue", 2, "consultant", at(days=8)),
]


def test_mri_and_plan_in_time_send_no_reminder() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(imaging(at(days=3)))
    p.receive(care_step(at(days=4), "decision_to_treat", decision="radiotherapy"))
    p.run_until(at(days=14))
    assert p.reminders("F5") == []


def test_plan_then_mri_in_either_order() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(care_step(at(days=2), "clinician_review", conclusion="mscc_excluded"))
    p.receive(imaging(at(days=3)))
    p.run_until(at(days=14))
    assert p.reminders("F5") == []


def test_mri_without_a_plan_is_reminded_then_escalated() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(imaging(at(days=3)))
    p.run_until(at(days=14))
    assert p.reminders("F5") == NOT_MET
    (item,) = [i for i in p.exps.open_items() if i["rule"] == "F5"]
    assert item["met"] == ["whole-spine MRI reported"]


def test_plan_after_the_reminder_stops_the_escalation() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(imaging(at(days=3)))
    p.run_until(at(days=6))
    p.receive(care_step(at(days=6), "decision_to_treat", decision="conservative"))
    p.run_until(at(days=14))
    assert p.reminders("F5") == NOT_MET[:1]


def test_acknowledging_the_day_5_reminder_does_not_stop_the_day_7_escalation() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    (warning,) = [r for r in p.run_until(at(days=5, hours=1)) if r.expectation_rule == "F5"]
    p.receive(acknowledgement(at(days=5, hours=2), warning.cloudevent_id, role="mscc_coordinator"))
    p.run_until(at(days=14))
    assert p.reminders("F5") == NOT_MET
