"""The worklist's rows: followup's answer joined with the page's view and the pathway's steps, most urgent
first, filtered; and the reminder chain of one escalation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from carepath import topics
from carepath.resources import pathways_dir
from tests.unit.worklist.records import encoded, raised
from worklist.rows import Filters, awaiting_acknowledgement, build, chain
from worklist.steps import steps
from worklist.view import View

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
STEPS = steps(pathways_dir() / "mscc")


def esc_row(esc: str, patient: str, rule: str, severity: str, overdue: bool = False) -> dict[str, Any]:
    return {
        "patient_id": patient,
        "escalation_id": esc,
        "rule": rule,
        "severity": severity,
        "acknowledged": False,
        "open_expectations": ["F3"] if rule == "R1" else [],
        "overdue": overdue,
    }


def exp_row(
    exp: str, esc: str, patient: str, rule: str, severity: str, due: str, overdue: bool
) -> dict[str, Any]:
    return {
        "patient_id": patient,
        "expectation_id": exp,
        "rule": rule,
        "status": "overdue" if overdue else "awaiting",
        "opened_at": "2026-12-04T09:00:00Z",
        "due_at": due,
        "next_reminder_at": None,
        "escalation_id": esc,
        "severity": severity,
        "met": [],
        "reminders_sent": [],
        "overdue": overdue,
    }


FOLLOWUP = {
    "escalations": [
        esc_row("esc-b", "p-2", "R2", "urgent"),
        esc_row("esc-a", "p-1", "R1", "emergency", overdue=True),
        esc_row("esc-c", "p-3", "R4", "routine"),
    ],
    "expectations": [
        exp_row("exp-3", "esc-b", "p-2", "A1", "urgent", "2026-12-04T16:00:00Z", False),
        exp_row("exp-1", "esc-a", "p-1", "F3", "emergency", "2026-12-05T09:00:00Z", False),
        exp_row("exp-2", "esc-a", "p-1", "F1", "emergency", "2026-12-04T10:00:00Z", True),
    ],
}


def held() -> View:
    view = View()
    rec = raised(escalation_id="esc-a")
    rec["id"], rec["subject"] = "esc-a.r1", "p-1"
    view.apply(topics.ESCALATIONS, encoded(rec))
    return view


def test_most_urgent_first_then_the_nearest_deadline() -> None:
    wl = build(held(), FOLLOWUP, NOW, Filters(), STEPS)
    assert [r.id for r in wl.escalations] == ["esc-a", "esc-b", "esc-c"]
    assert [r.id for r in wl.expectations] == ["exp-2", "exp-1", "exp-3"]
    a = wl.escalations[0]
    assert a.deadline == "2026-12-04T10:00:00Z"  # the nearest open step behind it
    assert a.overdue and a.detail_known and a.summary.startswith("Known breast cancer")
    b = wl.escalations[1]
    assert not b.detail_known and "not held" in b.summary  # followup knows it, the page has no details


def test_steps_are_named_and_teams_assigned_from_the_pathway() -> None:
    wl = build(held(), FOLLOWUP, NOW, Filters(), STEPS)
    f3 = next(r for r in wl.expectations if r.rule == "F3")
    assert "MRI" in f3.title
    a1 = next(r for r in wl.expectations if r.rule == "A1")
    assert a1.team == "acute_oncology" and not a1.team_notified
    assert wl.escalations[2].team == "gp"  # a routine escalation's acknowledgement goes to the GP first
    assert "acute_oncology" in wl.teams and {"R1", "R2", "F3"} <= set(wl.rules)


@pytest.mark.parametrize(
    ("filters", "escalations", "expectations"),
    [
        (Filters(severity="emergency"), ["esc-a"], ["exp-2", "exp-1"]),
        (Filters(rule="F3"), ["esc-a"], ["exp-1"]),
        (Filters(overdue=True), ["esc-a"], ["exp-2"]),
        (Filters(overdue=False), ["esc-b", "esc-c"], ["exp-1", "exp-3"]),
        (Filters(team="gp"), ["esc-c"], []),
    ],
)
def test_filters(filters: Filters, escalations: list[str], expectations: list[str]) -> None:
    wl = build(held(), FOLLOWUP, NOW, filters, STEPS)
    assert [r.id for r in wl.escalations] == escalations
    assert [r.id for r in wl.expectations] == expectations
    assert filters.any


def test_without_followup_the_rows_come_from_the_view_and_say_so() -> None:
    wl = build(held(), None, NOW, Filters(), STEPS)
    assert not wl.followup_answered and wl.expectations == []
    [a] = wl.escalations
    assert a.id == "esc-a" and a.overdue  # its first action's deadline (2024) is long past
    assert (
        not build(held(), None, datetime(2024, 5, 1, 9, 0, tzinfo=UTC), Filters(), STEPS)
        .escalations[0]
        .overdue
    )


def test_the_chain_of_one_escalation_and_whether_it_awaits_acknowledgement() -> None:
    patient = {"expectations": FOLLOWUP["expectations"]}
    rows = chain(patient, "esc-b")
    assert [r["rule"] for r in rows] == ["A1"] and awaiting_acknowledgement(rows)
    rows = chain(patient, "esc-a")
    assert {r["rule"] for r in rows} == {"F1", "F3"} and not awaiting_acknowledgement(rows)
    assert chain(None, "esc-a") == []
