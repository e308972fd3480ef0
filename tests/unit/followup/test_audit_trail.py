"""The expectations' audit trail: each opened and each closed, with the time the step took.

Driven through ``followup.batch`` as the worker drives it; every record must pass its event contract
(``carepath.expectation.audited.v1``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from carepath import envelope
from carepath.contracts import validate_output
from followup.batch import FollowupResult, Incoming, run_inputs, run_tick
from tests.unit.followup.followup_timeline import (
    PATHWAY,
    PATIENT,
    at,
    care_step,
    escalation,
    imaging,
    resolved,
)

pytestmark = pytest.mark.unit

KEY = PATIENT.encode()


class Worker:
    """The table as a dict, the inputs and ticks as the agent and timer hand them over."""

    def __init__(self) -> None:
        self.table: dict[bytes, bytes] = {}
        self.audit: list[dict[str, Any]] = []

    def _keep(self, result: FollowupResult) -> None:
        for a in result.audited:
            record = envelope.decode(a.value)
            assert validate_output(record) == [], validate_output(record)
            self.audit.append(record)
        for key, stored in result.states.items():
            self.table[key] = stored.value

    def receive(self, event: dict[str, Any], now: datetime) -> None:
        self._keep(run_inputs([Incoming(KEY, envelope.encode(event))], self.table.get, now, PATHWAY))

    def tick(self, now: datetime) -> None:
        self._keep(run_tick([KEY], self.table.get, now, PATHWAY))

    def of(self, rule: str) -> list[tuple[str, Any, Any]]:
        return [
            (r["data"]["transition"], r["data"].get("within_target"), r["data"].get("elapsed_seconds"))
            for r in self.audit
            if r["data"]["expectation"]["id"] == rule
        ]


def test_an_mri_reported_in_time_is_opened_then_satisfied_within_target_with_its_clinical_time() -> None:
    w = Worker()
    w.receive(escalation("R1", evidence_at=at(0)), at(minutes=1))
    # reported at 10 h, reaching carepath two hours later: the step's time is the report's
    w.receive(imaging(at(hours=10)), at(hours=12))
    assert w.of("F3") == [("opened", None, None), ("satisfied", True, 36000.0)]
    [done] = [
        r
        for r in w.audit
        if r["data"]["transition"] == "satisfied" and r["data"]["expectation"]["id"] == "F3"
    ]
    assert done["data"]["at"] == envelope.iso(at(hours=10))
    assert done["data"]["recorded_at"] == envelope.iso(at(hours=12))
    assert done["id"] == done["data"]["audit_id"] == f"{done['data']['expectation_id']}.satisfied"


def test_an_mri_read_after_the_resolution_it_caused_is_still_the_step_done_in_time() -> None:
    """The resolution (from triage, on another topic) overtakes the MRI on the way to followup: QS56 was
    met, and the trail says so, not "cancelled"."""
    w = Worker()
    w.receive(escalation("R1", evidence_at=at(0)), at(minutes=1))
    mri = imaging(at(hours=6), findings=[("cord_compression", "excluded")])
    w.receive(resolved("R1", at(hours=6), cause=mri), at(hours=6, minutes=1))
    w.tick(at(hours=6, minutes=2))
    assert w.of("F3") == [("opened", None, None)]
    w.receive(mri, at(hours=6, minutes=3))
    assert w.of("F3") == [("opened", None, None), ("satisfied", True, 6 * 3600.0)]


def test_an_mri_reported_after_its_deadline_is_satisfied_outside_the_target() -> None:
    w = Worker()
    w.receive(escalation("R1", evidence_at=at(0)), at(minutes=1))
    w.tick(at(hours=25))  # overdue reminders fire; no audit record of their own
    w.receive(imaging(at(hours=30)), at(hours=30))
    assert w.of("F3") == [("opened", None, None), ("satisfied", False, 30 * 3600.0)]


def test_an_expectation_still_open_has_only_its_opening_and_a_discharge_cancels_it() -> None:
    w = Worker()
    w.receive(escalation("R1", evidence_at=at(0)), at(minutes=1))
    w.tick(at(hours=30))
    assert [t for t, _, _ in w.of("F3")] == ["opened"]
    w.receive(care_step(at(hours=31), "patient_discharged"), at(hours=31))
    assert w.of("F3")[-1][:2] == ("cancelled", False)


def test_an_input_seen_twice_adds_nothing_to_the_trail() -> None:
    w = Worker()
    raised = escalation("R1", evidence_at=at(0))
    w.receive(raised, at(minutes=1))
    before = len(w.audit)
    w.receive(raised, at(minutes=2))
    assert len(w.audit) == before > 0
    assert len({r["id"] for r in w.audit}) == len(w.audit)


def test_opened_records_carry_the_clock_start_and_the_deadline() -> None:
    w = Worker()
    w.receive(escalation("R1", evidence_at=at(0)), at(minutes=1))
    [opened] = [r["data"] for r in w.audit if r["data"]["expectation"]["id"] == "F3"]
    assert opened["clock_start"] == envelope.iso(at(0))
    assert opened["deadline"] == envelope.iso(at(0) + timedelta(hours=24))
    assert opened["severity"] == "emergency" and opened["escalation_id"]
