"""The page's view of the topics: escalations with their reminders and acknowledgements, de-duplicated
and bounded; each patient's timeline. Records are the contract's own examples."""

from __future__ import annotations

from typing import Any

import pytest

from carepath import topics
from tests.unit.worklist.records import encoded, example, raised
from worklist.view import Entry, View

pytestmark = pytest.mark.unit

ESC = "esc-3f9c2a7b1e04d6a5"  # the R1 escalation of MRN-204731 in schemas/examples
REMINDER = "exp-8b1d44c0a9e2f713.1.warning"  # its F3 warning


def apply(view: View, topic: str, rec: dict[str, Any]) -> Any:
    return view.apply(topic, encoded(rec))


def test_an_escalation_is_held_with_its_explanation_and_told_as_a_change() -> None:
    view = View()
    change = apply(view, topics.ESCALATIONS, example("carepath.escalation.raised.v1"))
    assert change is not None
    assert (change.kind, change.escalation_id, change.severity, change.rule, change.change) == (
        "escalation",
        ESC,
        "emergency",
        "R1",
        "raised",
    )
    alert = view.alert(ESC)
    assert alert is not None and alert.patient_id == "MRN-204731"
    assert alert.explanation.summary.startswith("Known breast cancer")
    assert [a.within for a in alert.explanation.actions] == ["PT1H", "PT4H", "PT24H"]
    assert not alert.acknowledged and alert.team == ""


def test_a_repeated_or_older_revision_changes_nothing_and_a_newer_one_replaces_it() -> None:
    view = View()
    r1 = example("carepath.escalation.raised.v1")
    r2 = example("carepath.escalation.updated.v1")
    r3 = example("carepath.escalation.resolved.v1")
    assert apply(view, topics.ESCALATIONS, r1) is not None
    assert apply(view, topics.ESCALATIONS, r1) is None  # the same record again
    assert apply(view, topics.ESCALATIONS, r2) is not None
    assert apply(view, topics.ESCALATIONS, r1) is None  # older than the one held
    alert = view.alert(ESC)
    assert alert is not None and alert.explanation.revision == 2 and not alert.explanation.resolved
    change = apply(view, topics.ESCALATIONS, r3)
    assert change is not None and change.change == "resolved"
    assert alert.explanation.resolved and alert.explanation.resolution
    assert len([e for e in view.timeline("MRN-204731") if e.kind == "escalation"]) == 3


def test_reminders_and_acknowledgements_that_arrive_first_wait_for_their_escalation() -> None:
    view = View()
    reminder = example("carepath.reminder.due.v1", 0)
    ack_of_reminder = next(
        r
        for i in range(3)
        if (r := example("carepath.escalation.acknowledged.v1", i))["data"]["target_id"] == REMINDER
    )
    ack_of_escalation = next(
        r
        for i in range(3)
        if (r := example("carepath.escalation.acknowledged.v1", i))["data"]["target_id"] == ESC
    )
    assert apply(view, topics.REMINDERS, reminder) is not None
    assert apply(view, topics.ACKNOWLEDGEMENTS, ack_of_reminder) is not None
    assert apply(view, topics.REMINDERS, reminder) is None  # de-duplicated by reminder id
    apply(view, topics.ESCALATIONS, example("carepath.escalation.raised.v1"))
    alert = view.alert(ESC)
    assert alert is not None
    assert list(alert.reminders) == [REMINDER]
    assert alert.team == "mscc_coordinator"
    assert [a.target_id for a in alert.acknowledgements] == [REMINDER]
    assert not alert.acknowledged  # a reminder acknowledged is not the escalation acknowledged
    assert apply(view, topics.ACKNOWLEDGEMENTS, ack_of_escalation) is not None
    assert apply(view, topics.ACKNOWLEDGEMENTS, ack_of_escalation) is None
    assert alert.acknowledged and len(alert.acknowledgements) == 2
    assert view.expectation_texts()["exp-8b1d44c0a9e2f713"] == (
        "Whole-spine MRI reported",
        "mscc_coordinator",
    )


def test_the_radiology_sentence_behind_imaging_evidence_is_found_on_the_timeline() -> None:
    view = View()
    mri = example("carepath.imaging.resulted.v1", 2)  # mri-cord-compression-t10
    assert mri["id"] == "ris-acc-RX884120"
    rec = raised()
    rec["data"]["evidence"] = [
        {
            "event_id": mri["id"],
            "event_type": "carepath.imaging.resulted.v1",
            "fact": "MRI thoracic findings",
            "value": ["cord_compression (confirmed)"],
            "time": mri["time"],
        }
    ]
    assert apply(view, topics.CLINICAL_EVENTS, mri) is not None
    assert apply(view, topics.CLINICAL_EVENTS, mri) is None
    apply(view, topics.ESCALATIONS, rec)
    alert = view.alert(ESC)
    assert alert is not None
    found = view.sentences(alert)[mri["id"]]
    assert (
        "cord_compression (confirmed)",
        "Epidural tumour at T10 compresses the spinal cord with loss of CSF signal around the cord.",
    ) in found
    [event] = [e for e in view.timeline("MRN-204731") if e.kind == "event"]
    assert event.title == "imaging resulted" and "cord_compression (confirmed)" in event.detail


def test_what_the_page_cannot_read_changes_nothing() -> None:
    view = View()
    assert view.apply(topics.ESCALATIONS, b"not json") is None
    assert view.apply(topics.ESCALATIONS, None) is None
    assert view.apply(topics.ESCALATIONS, b"[1, 2]") is None
    assert (
        view.apply(topics.ESCALATIONS, encoded({"type": "carepath.escalation.raised.v1", "data": {}})) is None
    )
    assert view.apply("some.other.topic", encoded(example("carepath.escalation.raised.v1"))) is None
    assert not view.alerts and not view.timelines


def test_memory_is_bounded_and_resolved_escalations_go_first() -> None:
    view = View(max_escalations=10, max_patients=10, max_timeline=5)
    for i in range(12):
        rec = raised(escalation_id=f"esc-{i:04d}")
        rec["id"], rec["subject"] = f"esc-{i:04d}.r1", f"p-{i}"
        if i == 5:
            rec["type"] = "carepath.escalation.resolved.v1"
            rec["data"].update(status="resolved", resolution="MRI excludes compression.")
        apply(view, topics.ESCALATIONS, rec)
    assert len(view.alerts) == 10
    assert "esc-0005" not in view.alerts  # the resolved one went first
    assert "esc-0000" not in view.alerts  # then the oldest
    assert "esc-0011" in view.alerts
    assert len(view.timelines) == 10 and "p-0" not in view.timelines and "p-1" not in view.timelines
    for n in range(8):
        view.record_action("p-11", Entry(f"action-{n}", f"2026-12-01T10:0{n}:00Z", "action", "done"))
    assert len(view.timeline("p-11")) == 5
    assert view.timeline("p-11")[-1].id == "action-7"
    assert view.evicted == 4


def test_reminders_waiting_for_an_escalation_that_never_comes_are_bounded_too() -> None:
    view = View(max_escalations=10)
    for i in range(25):
        rec = example("carepath.reminder.due.v1", 0)
        rec["id"] = rec["data"]["reminder_id"] = f"exp-{i}.1.warning"
        rec["data"]["escalation_id"] = f"esc-never-{i}"
        apply(view, topics.REMINDERS, rec)
    assert len(view.waiting) == 10 and len(view.reminder_owner) == 10
    assert view.evicted == 15
