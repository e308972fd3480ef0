"""Which endpoints receive a notification: by escalation severity and change, by reminder chain level.

Pure: an escalation or reminder CloudEvent and the configured endpoints in, the endpoints out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from notifier.config import Endpoint

ESCALATION = "escalation"
REMINDER = "reminder"
_TYPES = {
    "carepath.escalation.raised.v1": (ESCALATION, "raised"),
    "carepath.escalation.updated.v1": (ESCALATION, "updated"),
    "carepath.escalation.resolved.v1": (ESCALATION, "resolved"),
    "carepath.reminder.due.v1": (REMINDER, "warning"),
    "carepath.reminder.overdue.v1": (REMINDER, "overdue"),
}


class NotRoutable(ValueError):
    """Not an escalation or reminder carepath delivers."""


@dataclass(frozen=True)
class Notification:
    id: str  # the CloudEvent id: the idempotency key of every delivery
    type: str
    patient: str
    kind: str  # escalation | reminder
    change: str  # raised | updated | resolved | warning | overdue
    severity: str | None = None
    rule: str | None = None
    level: int | None = None
    notify: str | None = None
    expectation: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Notification:
        try:
            kind, change = _TYPES[event["type"]]
            data = event["data"]
            common = {"id": str(event["id"]), "type": event["type"], "patient": str(event["subject"])}
            if kind == ESCALATION:
                return cls(
                    **common, kind=kind, change=change, severity=data["severity"], rule=data["rule"]["id"]
                )
            return cls(
                **common,
                kind=kind,
                change=change,
                level=int(data["level"]),
                notify=data["notify"],
                expectation=data["expectation"]["id"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NotRoutable(f"not a carepath escalation or reminder: {type(exc).__name__}: {exc}") from None


def routes(notification: Notification, endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    return [e for e in endpoints if receives(e, notification)]


def receives(endpoint: Endpoint, n: Notification) -> bool:
    if n.kind == ESCALATION:
        route = endpoint.escalations
        return route is not None and (
            _within(route.severities, n.severity)
            and _within(route.changes, n.change)
            and _within(route.rules, n.rule)
        )
    reminder = endpoint.reminders
    if reminder is None:
        return False
    level_ok = (reminder.levels is None or n.level in reminder.levels) and (
        reminder.min_level is None or (n.level or 0) >= reminder.min_level
    )
    return (
        level_ok
        and _within(reminder.kinds, n.change)
        and _within(reminder.notify, n.notify)
        and _within(reminder.expectations, n.expectation)
    )


def _within(allowed: frozenset[str] | None, value: str | None) -> bool:
    return allowed is None or value in allowed
