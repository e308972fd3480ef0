"""The audit trail of expectations: when each opened, and when and how it closed.

``audit`` compares a patient's expectations before and after one input and names what changed: an
expectation opened (its clock start and deadline), or closed - satisfied (with how long it took and
whether that was within its deadline), cancelled or withdrawn. Clinical governance reads the trail to
say how often the pathway's steps happen in time (``python -m carepath.audit``). Overdue needs no record
of its own: an opened expectation without a closure by its deadline is overdue.

Record ids are deterministic (``<expectation id>.<transition>``), so a record published twice is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from followup.core.pathway import FollowupPathway
from followup.core.reminders import rfc3339
from followup.core.state import OpenExpectation, PatientExpectations

AUDITED = "carepath.expectation.audited.v1"
CLOSURES = ("satisfied", "cancelled", "withdrawn")


@dataclass(frozen=True, init=False)
class AuditRecord:
    """One transition of one expectation: ``data`` is the event contract's data object."""

    cloudevent_id: str
    at: datetime
    expectation_rule: str
    transition: str  # opened | satisfied | cancelled | withdrawn
    elapsed_seconds: float | None  # clock start to closure
    within_target: bool | None  # closed by the deadline
    data: dict[str, Any]

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        cloudevent_id: str,
        at: datetime,
        expectation_rule: str,
        transition: str,
        elapsed_seconds: float | None,
        within_target: bool | None,
        data: dict[str, Any],
    ) -> None:
        object.__setattr__(self, "cloudevent_id", cloudevent_id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "expectation_rule", expectation_rule)
        object.__setattr__(self, "transition", transition)
        object.__setattr__(self, "elapsed_seconds", elapsed_seconds)
        object.__setattr__(self, "within_target", within_target)
        object.__setattr__(self, "data", data)

    @property
    def type(self) -> str:
        return AUDITED


def audit(
    before: PatientExpectations,
    after: PatientExpectations,
    now: datetime,
    pathway: FollowupPathway,
    event_id: str | None = None,
) -> list[AuditRecord]:
    """What changed from ``before`` to ``after`` (one input, ``event_id``, or one timer tick at ``now``).

    A satisfied expectation's time is the clinical time of the latest event that met it (an MRI report's
    time, not when it reached carepath), when carepath remembers it; else when it was recorded."""
    out: list[AuditRecord] = []
    for exp_id, exp in after.open.items():
        if exp_id not in before.open and exp_id not in before.closed:
            out.append(_record(exp, "opened", exp.anchor, now, pathway))
    for exp_id, closed in after.closed.items():
        if exp_id in before.closed:
            continue
        opened = before.open.get(exp_id)
        if opened is None:
            continue  # opened and closed by the same input: nothing the pathway could have done in time
        at = closed.closed_at
        if closed.outcome == "satisfied":
            ids = set(opened.met.values()) | ({event_id} if event_id else set())
            times = [f.time for f in after.facts.values() if f.event_id in ids]
            at = max(times, default=at)
        out.append(_record(opened, closed.outcome, at, now, pathway))
    return out


def _record(
    exp: OpenExpectation, transition: str, at: datetime, now: datetime, pathway: FollowupPathway
) -> AuditRecord:
    rule = pathway.find(exp.rule)
    name = rule.name if rule is not None else exp.rule
    data: dict[str, Any] = {
        "audit_id": f"{exp.id}.{transition}",
        "expectation_id": exp.id,
        "expectation": {"id": exp.rule, "name": name},
        "transition": transition,
        "at": rfc3339(at),
        "recorded_at": rfc3339(now),
        "clock_start": rfc3339(exp.anchor),
        "deadline": rfc3339(exp.deadline),
        "pathway": pathway.stamp,
    }
    if exp.severity:
        data["severity"] = exp.severity
    if exp.escalations:
        data["escalation_id"] = exp.escalations[0]
    elapsed: float | None = None
    within: bool | None = None
    if transition in CLOSURES:
        elapsed = max((at - exp.anchor).total_seconds(), 0.0)
        within = at <= exp.deadline
        data["elapsed_seconds"] = round(elapsed, 3)
        data["within_target"] = within
    return AuditRecord(data["audit_id"], at, exp.rule, transition, elapsed, within, data)
