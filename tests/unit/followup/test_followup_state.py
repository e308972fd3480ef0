"""The follow-up state survives the table: JSON round trip, purity of ``advance``, bounded size."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from followup.core import PatientExpectations, Tick, advance, parse_input
from followup.core.state import SEEN_IDS_KEPT
from tests.unit.followup.followup_timeline import (
    PATHWAY,
    PATIENT,
    Patient,
    acknowledgement,
    at,
    escalation,
    imaging,
    resolved,
    treatment,
)

pytestmark = pytest.mark.unit


def busy_patient() -> Patient:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(escalation("R2", severity="urgent", escalation_id="esc-R2-1"))
    p.receive(treatment(at(hours=1), "corticosteroid", "started", agent="Dexamethasone"))
    p.receive(acknowledgement(at(hours=1), "esc-R2-1"))
    p.run_until(at(hours=13))
    return p


def test_round_trip_through_json_keeps_everything() -> None:
    p = busy_patient()
    stored = json.loads(json.dumps(p.exps.to_dict()))
    restored = PatientExpectations.from_dict(stored)
    assert restored == p.exps
    assert restored.next_due() == p.exps.next_due()


def test_a_resolution_waiting_for_its_cause_survives_a_restart() -> None:
    p = busy_patient()
    mri = imaging(at(hours=14))
    p.receive(resolved("R1", at(hours=14), cause=mri))
    [waiting] = [e for e in p.exps.open.values() if e.resolving is not None and e.rule == "F3"]
    restored = PatientExpectations.from_dict(json.loads(json.dumps(p.exps.to_dict())))
    assert restored == p.exps
    assert restored.open[waiting.id].resolving == waiting.resolving
    after = advance(restored, parse_input(mri), at(hours=14, minutes=5), PATHWAY).expectations
    assert after.closed[waiting.id].outcome == "satisfied"


def test_a_restored_state_fires_the_same_reminders() -> None:
    p = busy_patient()
    restored = PatientExpectations.from_dict(json.loads(json.dumps(p.exps.to_dict())))
    now = at(days=2)
    assert (
        advance(restored, Tick(), now, PATHWAY).reminders == advance(p.exps, Tick(), now, PATHWAY).reminders
    )


def test_advance_never_changes_its_input() -> None:
    p = busy_patient()
    before = json.dumps(p.exps.to_dict())
    advance(p.exps, Tick(), at(days=3), PATHWAY)
    advance(p.exps, parse_input(imaging(at(hours=14))), at(hours=14), PATHWAY)
    advance(p.exps, parse_input(acknowledgement(at(hours=14), "esc-R1-1")), at(hours=14), PATHWAY)
    assert json.dumps(p.exps.to_dict()) == before


def test_a_tick_fires_each_step_once() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    first = p.tick(at(hours=30))
    assert first
    assert p.tick(at(hours=30)) == []
    assert p.tick(at(hours=31)) == []
    assert len({r.cloudevent_id for r in first}) == len(first)


def test_next_due_is_the_earliest_pending_step() -> None:
    p = Patient()
    assert p.exps.next_due() is None
    p.receive(escalation("R1"))
    assert p.exps.next_due() == at(minutes=15)  # A1 for an emergency
    p.receive(acknowledgement(at(minutes=5), "esc-R1-1"))
    assert p.exps.next_due() == at(hours=1)  # F1


def test_seen_ids_are_bounded() -> None:
    p = Patient()
    for minute in range(SEEN_IDS_KEPT + 50):
        p.receive(treatment(at(minutes=minute), "physiotherapy", "administered"))
    assert len(p.exps.seen) == SEEN_IDS_KEPT


def test_open_items_are_json_safe_worklist_rows() -> None:
    p = busy_patient()
    items = p.exps.open_items()
    json.dumps(items)
    f3 = next(item for item in items if item["rule"] == "F3")
    assert f3["status"] == "awaiting"
    assert f3["due_at"] == "2025-03-04T09:00:00Z"
    assert f3["escalation_id"] == "esc-R1-1"
    assert f3["reminders_sent"] == [f"{f3['expectation_id']}.warning.1"]
    assert datetime.fromisoformat(f3["next_reminder_at"]) == at(hours=24)


def test_event_for_another_patient_is_refused() -> None:
    other = PatientExpectations.empty(f"{PATIENT}-other")
    with pytest.raises(ValueError, match="another patient"):
        advance(other, parse_input(escalation("R1")), at(0), PATHWAY)


def test_now_must_carry_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        advance(PatientExpectations.empty(PATIENT), Tick(), datetime(2025, 1, 1), PATHWAY)
