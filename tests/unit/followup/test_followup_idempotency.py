"""Redelivery and replay never double a reminder: input ids are remembered, expectation and reminder ids
are deterministic, and fired steps are kept in state."""

from __future__ import annotations

import pytest

from followup.core import advance, parse_input
from followup.core.state import SEEN_IDS_KEPT
from tests.unit.followup.followup_timeline import PATHWAY, Patient, at, escalation, imaging, pain, treatment

pytestmark = pytest.mark.unit


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing() -> None:
    p = Patient()
    raised = escalation("R1")
    p.receive(raised)
    outcome = p.receive(raised)
    assert outcome.duplicate
    assert outcome.expectations is p.exps
    assert p.open_rules() == ["A1", "F1", "F2", "F3"]


def test_replaying_a_whole_history_beyond_the_redelivery_window_adds_nothing() -> None:
    p = Patient()
    history = [
        escalation("R1"),
        imaging(at(hours=30)),
        escalation("R2", severity="urgent", escalation_id="e2"),
    ]
    for item in history[:1]:
        p.receive(item)
    p.run_until(at(hours=29))
    for item in history[1:]:
        p.receive(item)
    p.run_until(at(hours=40))
    sent_before = [r.cloudevent_id for r in p.sent]
    for minute in range(SEEN_IDS_KEPT + 1):  # push the originals out of the redelivery window
        p.receive(pain(at(hours=40, minutes=minute)))
    for item in history:
        assert not p.receive(item).duplicate
    p.run_until(at(days=3))
    replayed = [r.cloudevent_id for r in p.sent]
    assert replayed[: len(sent_before)] == sent_before
    assert len(set(replayed)) == len(replayed)


def test_same_history_gives_the_same_ids_in_another_worker() -> None:
    history = [escalation("R1"), treatment(at(hours=1), "strong_opioid", "started")]

    def run() -> list[str]:
        p = Patient()
        for item in history:
            p.receive(item)
        p.run_until(at(days=5))
        return [r.cloudevent_id for r in p.sent]

    first = run()
    assert any(rid.startswith("f10-") for rid in first)
    assert first == run()


def test_the_same_event_for_a_fresh_state_is_not_a_duplicate() -> None:
    p, q = Patient(), Patient()
    raised = escalation("R1")
    p.receive(raised)
    assert not advance(q.exps, parse_input(raised), at(0), PATHWAY).duplicate
