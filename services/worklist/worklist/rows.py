"""The worklist's rows: open escalations and pending expectations, most urgent first. Pure.

followup's worklist API says what is open and acknowledged, and which expectations are pending with their
deadlines; the page's view of the topics adds what followup does not keep: the reason, evidence, actions,
source and the team the reminder chain reached. When followup does not answer, the rows come from the view
alone and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carepath.envelope import parse_time
from worklist.view import View

SEVERITIES = ("emergency", "urgent", "routine")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
FAR = "9999-12-31T23:59:59Z"
ACKNOWLEDGEMENT = "A1"  # the pathway's expectation that an escalation is acknowledged


@dataclass(frozen=True)
class Step:
    """What the pathway says of one follow-up expectation: what is expected, and which team its reminder
    chain notifies first, by the severity of the escalation behind it."""

    expected: str
    first_team: Mapping[str, str] = field(default_factory=dict)

    def team(self, severity: str) -> str:
        return self.first_team.get(severity) or self.first_team.get("", "")


Steps = Mapping[str, Step]  # expectation id (F3, A1) -> Step


@dataclass(frozen=True)
class Filters:
    severity: str | None = None
    rule: str | None = None
    overdue: bool | None = None
    team: str | None = None

    def keep(self, row: Row) -> bool:
        if self.severity and row.severity != self.severity:
            return False
        if self.rule and self.rule not in row.rules:
            return False
        if self.overdue is not None and row.overdue != self.overdue:
            return False
        return not self.team or row.team == self.team

    @property
    def any(self) -> bool:
        return any(v is not None and v != "" for v in (self.severity, self.rule, self.overdue, self.team))


@dataclass(frozen=True)
class Row:
    kind: str  # escalation, expectation
    id: str
    patient_id: str
    severity: str
    rule: str  # the rule that fired (R1) or the expectation (F3)
    title: str  # rule name, or what is expected
    summary: str  # the one-sentence reason; for an expectation, its status
    deadline: str  # RFC 3339: the next deadline that matters
    overdue: bool
    acknowledged: bool
    team: str  # the team the reminder chain notified last, or the one it will notify first
    escalation_id: str
    rules: tuple[str, ...]  # every rule id the row answers to in the rule filter
    detail_known: bool = True
    team_notified: bool = False  # whether a reminder has reached ``team`` yet


@dataclass(frozen=True)
class Worklist:
    escalations: list[Row]
    expectations: list[Row]
    followup_answered: bool

    @property
    def rules(self) -> list[str]:
        return sorted({r for row in self.escalations + self.expectations for r in row.rules}, key=_rule_key)

    @property
    def teams(self) -> list[str]:
        return sorted({row.team for row in self.escalations + self.expectations if row.team})


def _rule_key(rule: str) -> tuple[str, int, str]:
    digits = "".join(c for c in rule[1:] if c.isdigit())
    return (rule[:1], int(digits) if digits else 0, rule)


def _overdue(deadline: str, now: datetime) -> bool:
    try:
        return parse_time(deadline) <= now
    except ValueError:
        return False


def build(
    view: View, followup: dict[str, Any] | None, now: datetime, filters: Filters, steps: Steps | None = None
) -> Worklist:
    """The rows, from followup's worklist answer (None: it did not answer), the view and the pathway's
    ``steps``."""
    steps = steps or {}
    texts = view.expectation_texts()
    expectations: list[Row] = []
    by_escalation: dict[str, list[Row]] = {}
    for e in (followup or {}).get("expectations", []):
        expected, team = texts.get(str(e.get("expectation_id")), ("", ""))
        esc_id = str(e.get("escalation_id") or "")
        alert = view.alert(esc_id) if esc_id else None
        severity = str(e.get("severity") or (alert.explanation.severity if alert else "routine"))
        step = steps.get(str(e.get("rule", "")))
        row = Row(
            kind="expectation",
            id=str(e.get("expectation_id")),
            patient_id=str(e.get("patient_id", "")),
            severity=severity,
            rule=str(e.get("rule", "")),
            title=expected or (step.expected if step else "") or str(e.get("rule", "")),
            summary=str(e.get("status", "")).replace("_", " "),
            deadline=str(e.get("due_at", "")),
            overdue=bool(e.get("overdue")),
            acknowledged=e.get("status") == "acknowledged",
            team=team or (step.team(severity) if step else ""),
            escalation_id=esc_id,
            rules=(str(e.get("rule", "")),),
            team_notified=bool(team),
        )
        expectations.append(row)
        if esc_id:
            by_escalation.setdefault(esc_id, []).append(row)

    escalations: list[Row] = []
    if followup is not None:
        for e in followup.get("escalations", []):
            esc_id = str(e.get("escalation_id"))
            alert = view.alert(esc_id)
            related = by_escalation.get(esc_id, [])
            pending = [r.deadline for r in related if r.deadline]
            x = alert.explanation if alert else None
            deadline = min(pending) if pending else (x.deadline if x else "")
            escalations.append(
                Row(
                    kind="escalation",
                    id=esc_id,
                    patient_id=str(e.get("patient_id", "")),
                    severity=str(e.get("severity") or (x.severity if x else "")),
                    rule=str(e.get("rule") or (x.rule_id if x else "")),
                    title=x.rule_name if x else "",
                    summary=x.summary if x else "details not held by the page (older than its memory)",
                    deadline=deadline,
                    overdue=bool(e.get("overdue")),
                    acknowledged=bool(e.get("acknowledged")),
                    team=(alert.team if alert else "") or _first_team(steps, severity_of(e, x)),
                    escalation_id=esc_id,
                    rules=(str(e.get("rule") or ""), *(str(r) for r in e.get("open_expectations", []))),
                    detail_known=alert is not None,
                    team_notified=bool(alert and alert.team),
                )
            )
    else:
        for alert in view.alerts.values():
            x = alert.explanation
            if x.resolved:
                continue
            escalations.append(
                Row(
                    kind="escalation",
                    id=x.escalation_id,
                    patient_id=x.patient_id,
                    severity=x.severity,
                    rule=x.rule_id,
                    title=x.rule_name,
                    summary=x.summary,
                    deadline=x.deadline,
                    overdue=_overdue(x.deadline, now),
                    acknowledged=alert.acknowledged,
                    team=alert.team or _first_team(steps, x.severity),
                    escalation_id=x.escalation_id,
                    rules=(x.rule_id,),
                    team_notified=bool(alert.team),
                )
            )

    def order(row: Row) -> tuple[int, str, str]:
        return (_RANK.get(row.severity, 9), row.deadline or FAR, row.id)

    return Worklist(
        escalations=sorted((r for r in escalations if filters.keep(r)), key=order),
        expectations=sorted((r for r in expectations if filters.keep(r)), key=order),
        followup_answered=followup is not None,
    )


def severity_of(row: dict[str, Any], x: Any) -> str:
    return str(row.get("severity") or (x.severity if x else ""))


def _first_team(steps: Steps, severity: str) -> str:
    """Who an escalation's acknowledgement chain (A1) notifies first at this severity."""
    step = steps.get(ACKNOWLEDGEMENT)
    return step.team(severity) if step else ""


def chain(followup_patient: dict[str, Any] | None, escalation_id: str) -> list[dict[str, Any]]:
    """The reminder chain of one escalation as followup holds it: each open expectation with its status,
    deadline, next reminder and the reminders sent so far."""
    if followup_patient is None:
        return []
    return [
        {
            "expectation_id": e.get("expectation_id"),
            "rule": e.get("rule"),
            "status": e.get("status"),
            "due_at": e.get("due_at"),
            "next_reminder_at": e.get("next_reminder_at"),
            "reminders_sent": list(e.get("reminders_sent") or []),
            "overdue": bool(e.get("overdue")),
        }
        for e in followup_patient.get("expectations", [])
        if e.get("escalation_id") == escalation_id
    ]


def awaiting_acknowledgement(chain_rows: list[dict[str, Any]]) -> bool:
    """Whether followup still waits for this escalation to be acknowledged (its A1 expectation is open)."""
    return any(r.get("rule") == ACKNOWLEDGEMENT for r in chain_rows)
