"""A1: every escalation raised is acknowledged by a clinician: emergency within 15 minutes, urgent
within 4 hours, routine within 72 hours; if not, re-notify, then the next person in the chain.

Source: carepath design default [G] (all times and roles are local defaults).
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

ESC = "esc-R1-1"


def test_acknowledged_in_time_sends_no_reminder() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(acknowledgement(at(minutes=10), ESC))
    p.run_until(at(days=1))
    assert p.reminders("A1") == []


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (
            "emergency",
            [
                ("overdue", 1, "acute_oncology", at(minutes=15)),
                ("overdue", 2, "on_call_registrar", at(minutes=30)),
                ("overdue", 3, "consultant", at(minutes=45)),
            ],
        ),
        (
            "urgent",
            [
                ("overdue", 1, "acute_oncology", at(hours=4)),
                ("overdue", 2, "on_call_registrar", at(hours=6)),
                ("overdue", 3, "consultant", at(hours=10)),
            ],
        ),
        ("routine", [("overdue", 1, "gp", at(hours=72)), ("overdue", 2, "consultant", at(hours=120))]),
    ],
)
def test_unacknowledged_renotifies_then_goes_up_the_chain_then_stops(
    severity: str, expected: list[object]
) -> None:
    p = Patient()
    p.receive(escalation("R2", severity=severity))
    p.run_until(at(days=30))
    assert p.reminders("A1") == expected


def test_clock_starts_when_the_escalation_was_raised() -> None:
    p = Patient()
    p.receive(escalation("R1", evidence_at=at(0), raised_at=at(hours=2)))
    p.run_until(at(hours=3))
    assert p.reminders("A1")[0][3] == at(hours=2, minutes=15)


def test_acknowledging_the_reminder_stops_the_chain() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    (level1,) = [r for r in p.run_until(at(minutes=20)) if r.expectation_rule == "A1"]
    p.receive(acknowledgement(at(minutes=22), level1.cloudevent_id, role="on_call_registrar"))
    p.run_until(at(days=1))
    assert [level for _, level, _, _ in p.reminders("A1")] == [1]
    assert "A1" not in p.open_rules()


def test_acknowledging_twice_is_harmless() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    first = acknowledgement(at(minutes=5), ESC)
    p.receive(first)
    before = p.exps.to_dict()
    second = p.receive(acknowledgement(at(minutes=6), ESC, role="consultant"))
    assert not second.duplicate
    redelivered = p.receive(first)
    assert redelivered.duplicate
    assert redelivered.expectations is p.exps
    after = p.exps.to_dict()
    assert after["open"] == before["open"] and after["closed"] == before["closed"]


def test_revision_event_id_is_accepted_as_the_escalation() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(acknowledgement(at(minutes=5), f"{ESC}.r1"))
    p.run_until(at(days=1))
    assert p.reminders("A1") == []


def test_acknowledgement_processed_before_the_escalation_still_counts() -> None:
    """Acknowledgements and escalations travel on different topics and may be read out of order."""
    p = Patient()
    p.receive(acknowledgement(at(minutes=1), ESC))
    p.receive(escalation("R1"), now=at(minutes=2))
    p.run_until(at(days=1))
    assert p.reminders("A1") == []


def test_resolution_cancels_it_but_discharge_does_not() -> None:
    resolved_case, discharged_case = Patient(), Patient()
    for p in (resolved_case, discharged_case):
        p.receive(escalation("R3"))
    resolved_case.receive(resolved("R3", at(minutes=5)))
    discharged_case.receive(care_step(at(minutes=5), "patient_discharged"))
    resolved_case.run_until(at(days=1))
    discharged_case.run_until(at(days=1))
    assert resolved_case.reminders("A1") == []
    assert len(discharged_case.reminders("A1")) == 3


def test_a_severity_upgrade_retimes_the_unacknowledged_escalation() -> None:
    p = Patient()
    p.receive(escalation("R12", severity="urgent"))
    p.receive(
        escalation("R12", severity="emergency", raised_at=at(0), kind="updated", revision=2),
        now=at(minutes=5),
    )
    p.run_until(at(hours=1))
    assert [due for *_, due in p.reminders("A1")] == [at(minutes=15), at(minutes=30), at(minutes=45)]


def test_override_acknowledgement_satisfies_a1_and_cancels_the_actions_chased_for_that_escalation() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    assert p.open_rules() == ["A1", "F1", "F2", "F3"]
    p.receive(acknowledgement(at(minutes=10), ESC, override=True))
    p.run_until(at(days=3))
    assert p.open_rules() == []
    assert p.sent == []


def test_each_escalation_is_acknowledged_on_its_own() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(escalation("R12", severity="urgent", escalation_id="esc-R12-1"))
    p.receive(acknowledgement(at(minutes=5), ESC))
    p.run_until(at(days=1))
    assert {r.data["escalation_id"] for r in p.sent if r.expectation_rule == "A1"} == {"esc-R12-1"}


def test_knows_escalations_and_sent_reminders_only() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    assert p.exps.knows(ESC)
    assert not p.exps.knows("esc-unknown")
    (level1,) = [r for r in p.run_until(at(minutes=16)) if r.expectation_rule == "A1"]
    assert p.exps.knows(level1.cloudevent_id)
    assert not p.exps.knows(level1.cloudevent_id.replace(".overdue.1", ".overdue.2"))
    p.receive(acknowledgement(at(minutes=17), ESC))
    assert p.exps.knows(ESC) and p.exps.knows(level1.cloudevent_id)  # still known once closed
