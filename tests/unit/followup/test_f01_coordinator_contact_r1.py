"""F1: after R1 (MSCC suspected), expect the MSCC coordinator to be contacted within 1 hour.

Source: NICE CG75 (2008) 1.1 [P], contact the MSCC coordinator immediately; NICE NG234 1.5.2 [S].
"Immediately" read as 1 hour and the chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import (
    Patient,
    acknowledgement,
    at,
    care_step,
    escalation,
    resolved,
)

pytestmark = pytest.mark.unit

NOT_MET = [
    ("overdue", 1, "mscc_coordinator", at(hours=1)),
    ("overdue", 2, "on_call_registrar", at(hours=1, minutes=30)),
    ("overdue", 3, "consultant", at(hours=2)),
]


def test_contact_in_time_sends_no_reminder() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(care_step(at(minutes=40), "mscc_coordinator_contacted"))
    p.run_until(at(days=1))
    assert p.reminders("F1") == []


def test_no_contact_escalates_up_the_chain_then_stops() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.run_until(at(days=2))
    assert p.reminders("F1") == NOT_MET


def test_contact_after_level_1_stops_the_chain() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.run_until(at(hours=1, minutes=10))
    p.receive(care_step(at(hours=1, minutes=15), "mscc_coordinator_contacted"))
    p.run_until(at(days=1))
    assert p.reminders("F1") == NOT_MET[:1]


def test_contact_before_the_red_flag_does_not_count() -> None:
    p = Patient()
    p.receive(care_step(at(hours=-3), "mscc_coordinator_contacted"))
    p.receive(escalation("R1"))
    p.run_until(at(days=1))
    assert p.reminders("F1") == NOT_MET


def test_contact_recorded_before_the_escalation_arrives_counts() -> None:
    p = Patient()
    p.receive(care_step(at(minutes=10), "mscc_coordinator_contacted"))
    p.receive(escalation("R1", evidence_at=at(0), raised_at=at(minutes=12)))
    p.run_until(at(days=1))
    assert p.reminders("F1") == []


def test_acknowledging_the_overdue_reminder_stops_the_chain_but_keeps_it_on_the_worklist() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    (level1,) = [r for r in p.run_until(at(hours=1, minutes=5)) if r.expectation_rule == "F1"]
    p.receive(acknowledgement(at(hours=1, minutes=6), level1.cloudevent_id, role="mscc_coordinator"))
    p.receive(acknowledgement(at(hours=1, minutes=7), level1.cloudevent_id, role="mscc_coordinator"))
    p.run_until(at(days=1))
    assert p.reminders("F1") == NOT_MET[:1]
    (item,) = [i for i in p.exps.open_items() if i["rule"] == "F1"]
    assert item["status"] == "acknowledged"


def test_resolution_cancels_it() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(resolved("R1", at(minutes=30)))
    p.run_until(at(days=1))
    assert p.reminders("F1") == []


def test_only_r1_opens_it() -> None:
    p = Patient()
    p.receive(escalation("R2", severity="urgent"))
    p.receive(escalation("R8", escalation_id="esc-R8-1"))
    assert "F1" not in p.open_rules()
