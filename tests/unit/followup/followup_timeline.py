"""Timelines for the follow-up spec tests: clinical events in, reminders out.

``Patient`` feeds CloudEvents to the core and moves the clock the way the service's timer does (a tick
whenever something is due, or at a chosen step). Builders make the events of the contract with only the
fields a scenario cares about. ``T0`` is the start of every timeline; ``at(hours=12)`` is 12 h after it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from carepath import envelope
from carepath.resources import pathways_dir
from followup.core import Outcome, PatientExpectations, Reminder, Tick, advance, load_pathway, parse_input

PATHWAY = load_pathway(pathways_dir() / "mscc")
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PATIENT = "patient-0001"
_ids = itertools.count(1)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


def event(type_: str, when: datetime, data: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or f"evt-{next(_ids)}",
        "source": "urn:test",
        "type": type_,
        "subject": PATIENT,
        "time": when.isoformat(),
        "data": data,
    }


def escalation(
    rule: str,
    severity: str = "emergency",
    evidence_at: datetime = T0,
    raised_at: datetime | None = None,
    escalation_id: str | None = None,
    kind: str = "raised",
    revision: int = 1,
) -> dict[str, Any]:
    """An escalation event from triage; the evidence time is when the red flag was recorded."""
    esc_id = escalation_id or f"esc-{rule}-1"
    raised = raised_at or evidence_at
    data: dict[str, Any] = {
        "escalation_id": esc_id,
        "revision": revision,
        "status": "resolved" if kind == "resolved" else "open",
        "severity": severity,
        "rule": {"id": rule, "name": "TEST"},
        "reason": "test",
        "evidence": [
            {
                "event_id": "e0",
                "event_type": "carepath.pain.reported.v1",
                "fact": "f",
                "value": 1,
                "time": evidence_at.isoformat(),
            }
        ],
        "actions": [],
        "deadline": (raised + timedelta(hours=1)).isoformat(),
        "source": "test",
        "pathway": {"id": "carepath-mscc", "version": "1.0.0"},
        "raised_at": raised.isoformat(),
    }
    return event(f"carepath.escalation.{kind}.v1", raised, data, f"{esc_id}.r{revision}")


def resolved(
    rule: str,
    when: datetime,
    escalation_id: str | None = None,
    revision: int = 2,
    cause: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A resolution; with ``cause``, its evidence names that event, as triage's does (the MRI that
    excluded compression)."""
    out = escalation(rule, raised_at=when, escalation_id=escalation_id, kind="resolved", revision=revision)
    if cause is not None:
        out["data"]["evidence"] = [
            {
                "event_id": cause["id"],
                "event_type": cause["type"],
                "fact": "mri whole_spine (final)",
                "value": ["none of the findings in question"],
                "time": cause["time"],
            }
        ]
    return out


def imaging(
    when: datetime,
    modality: str = "mri",
    region: str = "whole_spine",
    report_status: str = "final",
    findings: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    data = {
        "modality": modality,
        "region": region,
        "report_status": report_status,
        "findings": [{"code": code, "certainty": certainty} for code, certainty in findings or []],
    }
    return event("carepath.imaging.resulted.v1", when, data)


def treatment(when: datetime, category: str, change: str, agent: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"category": category, "change": change}
    if agent:
        data["agent"] = agent
    return event("carepath.treatment.changed.v1", when, data)


def care_step(
    when: datetime, step: str, decision: str | None = None, conclusion: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"step": step}
    if decision:
        data["decision"] = decision
    if conclusion:
        data["conclusion"] = conclusion
    return event("carepath.care_step.recorded.v1", when, data)


def pain(when: datetime, nrs: int = 5) -> dict[str, Any]:
    return event("carepath.pain.reported.v1", when, {"nrs": nrs, "site": ["thoracic"]})


def lab(
    when: datetime, test: str = "adjusted_calcium", value: float = 2.5, unit: str = "mmol/L"
) -> dict[str, Any]:
    return event("carepath.lab.resulted.v1", when, {"test": test, "value": value, "unit": unit})


def diagnosis(when: datetime, status: str = "active", verification: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"cancer": {"primary_site": "breast", "status": status}}
    if verification:
        data["verification"] = verification
    return event("carepath.diagnosis.recorded.v1", when, data)


def acknowledgement(
    when: datetime, target_id: str, role: str = "acute_oncology", override: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {"target_id": target_id, "role": role}
    if override:
        data["override"] = True
        data["reason"] = "clinician disagrees"
    return event("carepath.escalation.acknowledged.v1", when, data)


class Patient:
    """One patient's expectations, driven like the service drives them."""

    def __init__(self) -> None:
        self.exps = PatientExpectations.empty(PATIENT)
        self.now = T0
        self.sent: list[Reminder] = []

    def receive(self, cloudevent: dict[str, Any], now: datetime | None = None) -> Outcome:
        """Process an event at ``now`` (default: its own clinical time, never before the clock)."""
        self.now = max(self.now, now or parse_input(cloudevent).time)
        outcome = advance(self.exps, parse_input(cloudevent), self.now, PATHWAY)
        assert outcome.reminders == [], "an event never fires reminders itself"
        self.exps = outcome.expectations
        return outcome

    def tick(self, now: datetime) -> list[Reminder]:
        self.now = max(self.now, now)
        outcome = advance(self.exps, Tick(), self.now, PATHWAY)
        self.exps = outcome.expectations
        self.sent += outcome.reminders
        return outcome.reminders

    def run_until(self, end: datetime) -> list[Reminder]:
        """Tick at every due time up to ``end`` (a timer that is never late), then at ``end``."""
        fired: list[Reminder] = []
        while (due := self.exps.next_due()) is not None and due <= end:
            fired += self.tick(due)
        fired += self.tick(end)
        return fired

    def reminders(self, rule: str) -> list[tuple[str, int, str, datetime]]:
        """(kind, level, notify, due_at) of the reminders sent so far for ``rule``."""
        return [
            (r.kind, r.level, r.data["notify"], datetime.fromisoformat(r.data["due_at"]))
            for r in self.sent
            if r.expectation_rule == rule
        ]

    def open_rules(self) -> list[str]:
        return sorted(item["rule"] for item in self.exps.open_items())


def stored(exps: PatientExpectations) -> bytes:
    """``exps`` as the worker's table holds it."""
    return envelope.encode_for_storage(exps.to_dict())


def r1_patient() -> Patient:
    """A patient with an R1 (suspected MSCC) escalation received, nothing answered."""
    p = Patient()
    p.receive(escalation("R1"))
    return p
