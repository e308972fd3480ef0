"""Reminders: what followup publishes when a step of an expectation falls due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from followup.core.ids import reminder_id
from followup.core.pathway import ExpectationRule, FollowupPathway
from followup.core.state import OpenExpectation, Step

REMINDER_DUE: Final = "carepath.reminder.due.v1"
REMINDER_OVERDUE: Final = "carepath.reminder.overdue.v1"
TYPE_BY_KIND: Final = {"warning": REMINDER_DUE, "overdue": REMINDER_OVERDUE}


@dataclass(frozen=True, init=False)
class Reminder:
    """One reminder: ``data`` is the reminder data object of the event contract."""

    cloudevent_id: str
    type: str
    expectation_rule: str
    kind: str  # "warning" | "overdue"
    level: int
    lateness_seconds: float
    data: dict[str, Any]
    at: datetime  # when it fired: the event's time and ``data.fired_at``
    trace: str | None = None  # the trace context of the event that opened the expectation

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        cloudevent_id: str,
        type: str,
        expectation_rule: str,
        kind: str,
        level: int,
        lateness_seconds: float,
        data: dict[str, Any],
        at: datetime,
        trace: str | None = None,
    ) -> None:
        object.__setattr__(self, "cloudevent_id", cloudevent_id)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "expectation_rule", expectation_rule)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "level", level)
        object.__setattr__(self, "lateness_seconds", lateness_seconds)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "trace", trace)


def build_reminder(
    exp: OpenExpectation, step: Step, rule: ExpectationRule, now: datetime, pathway: FollowupPathway
) -> Reminder:
    rid = reminder_id(exp.id, step.kind, step.level)
    lateness = max(0.0, (now - step.due).total_seconds())
    data: dict[str, Any] = {
        "reminder_id": rid,
        "expectation_id": exp.id,
        "expectation": {"id": rule.id, "name": rule.name},
    }
    if exp.escalations:
        data["escalation_id"] = exp.escalations[0]
    data.update(
        {
            "expected": rule.expected,
            "kind": step.kind,
            "level": step.level,
            "notify": step.notify,
            "due_at": rfc3339(step.due),
            "fired_at": rfc3339(now),
            "lateness_seconds": lateness,
            "source": f"{rule.source} [{rule.evidence}]",
            "pathway": pathway.stamp,
        }
    )
    return Reminder(
        rid, TYPE_BY_KIND[step.kind], rule.id, step.kind, step.level, lateness, data, now, exp.trace
    )


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and ``Z``, the time format of every carepath event."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
