"""Escalations and reminders rendered as FHIR R4 resources, each valid against the R4B models."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.task import Task

from carepath.resources import schemas_dir
from notifier.fhir_render import fhir_id, render, transaction

pytestmark = pytest.mark.unit

EXAMPLES = Path(schemas_dir(), "examples")
OUTPUTS = sorted(
    p
    for kind in (
        "carepath.escalation.raised.v1",
        "carepath.escalation.updated.v1",
        "carepath.escalation.resolved.v1",
        "carepath.reminder.due.v1",
        "carepath.reminder.overdue.v1",
    )
    for p in (EXAMPLES / kind / "valid").glob("*.json")
)


def load(kind: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXAMPLES / kind / "valid" / name).read_text()))


def by_type(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == rtype]


@pytest.mark.parametrize("path", OUTPUTS, ids=lambda p: p.name)
def test_every_example_output_renders_as_a_valid_transaction(path: Path) -> None:
    event = json.loads(path.read_text())
    bundle = Bundle.model_validate(transaction(event))
    assert bundle.type == "transaction" and bundle.entry
    for entry in bundle.entry:
        assert entry.request.method == "PUT"
        assert entry.request.url == f"{entry.resource.get_resource_type()}/{entry.resource.id}"


def test_escalation_is_a_detected_issue_with_evidence_and_a_flag() -> None:
    event = load("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    resources = render(event)
    [issue_json] = by_type(resources, "DetectedIssue")
    issue = DetectedIssue.model_validate(issue_json)
    assert issue.severity == "high" and issue.status == "final"
    assert issue.code.coding[0].code == "R1" and issue.patient.reference == "Patient/MRN-204731"
    assert "NICE CG75" in issue.detail and "carepath-mscc 1.0.0" in issue.detail
    details = [d for e in issue.evidence for d in e.detail]
    assert [d.identifier.value for d in details] == ["somerset-dx-55102", "mirth-ward7-000183"]
    assert "limb_weakness, walking_difficulty" in issue.evidence[1].code[0].text
    [flag] = [Flag.model_validate(f) for f in by_type(resources, "Flag")]
    assert (
        flag.status == "active" and flag.extension[0].valueReference.reference == f"DetectedIssue/{issue.id}"
    )


def test_evidence_that_came_in_as_fhir_points_at_the_resource() -> None:
    event = load("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    event["data"]["evidence"][1]["event_id"] = "Observation/pain-0001/_history/1"
    [issue] = by_type(render(event), "DetectedIssue")
    assert issue["evidence"][1]["detail"][0]["reference"] == "Observation/pain-0001/_history/1"


def test_each_action_is_a_task_due_by_its_deadline() -> None:
    event = load("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    tasks = [Task.model_validate(t) for t in by_type(render(event), "Task")]
    actions = event["data"]["actions"]
    assert [t.description for t in tasks] == [a["action"] for a in actions]
    assert [t.restriction.period.end.isoformat() for t in tasks] == [
        "2024-05-01T10:30:00+01:00",
        "2024-05-01T13:30:00+01:00",
        "2024-05-02T09:30:00+01:00",
    ]
    assert {t.status for t in tasks} == {"requested"} and {t.priority for t in tasks} == {"stat"}


def test_the_notification_is_a_communication_request_about_the_issue() -> None:
    event = load("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    resources = render(event)
    [request] = [CommunicationRequest.model_validate(r) for r in by_type(resources, "CommunicationRequest")]
    [issue] = by_type(resources, "DetectedIssue")
    assert request.priority == "stat" and request.about[0].reference == f"DetectedIssue/{issue['id']}"
    assert "Whole-spine MRI" in request.payload[0].contentString
    assert request.occurrenceDateTime.isoformat() == "2024-05-01T10:30:00+01:00"


def test_revisions_update_the_same_resources_and_resolution_closes_them() -> None:
    raised = render(load("carepath.escalation.raised.v1", "r1-mscc-suspected.json"))
    updated_event = load("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    updated_event.update(type="carepath.escalation.updated.v1", id="esc-3f9c2a7b1e04d6a5.r2")
    updated_event["data"]["revision"] = 2
    updated = render(updated_event)
    ids = {(r["resourceType"], r["id"]) for r in raised}
    assert {
        (r["resourceType"], r["id"]) for r in by_type(updated, "DetectedIssue") + by_type(updated, "Task")
    } <= ids
    assert by_type(updated, "DetectedIssue")[0]["status"] == "amended"
    assert (
        by_type(updated, "CommunicationRequest")[0]["id"] != by_type(raised, "CommunicationRequest")[0]["id"]
    )
    resolved_event = copy.deepcopy(updated_event)
    resolved_event.update(type="carepath.escalation.resolved.v1", id="esc-3f9c2a7b1e04d6a5.r3")
    resolved_event["data"].update(status="resolved", revision=3, resolution="MRI excludes compression.")
    resolved = render(resolved_event)
    assert by_type(resolved, "Flag")[0]["status"] == "inactive"
    assert (
        by_type(resolved, "DetectedIssue")[0]["mitigation"][0]["action"]["text"]
        == "MRI excludes compression."
    )
    assert {t["status"] for t in by_type(resolved, "Task")} == {"cancelled"}


def test_an_overdue_reminder_is_a_task_past_its_deadline_and_a_request_to_the_role() -> None:
    event = load("carepath.reminder.overdue.v1", "a1-unacknowledged-emergency-level-2.json")
    resources = render(event)
    [task] = [Task.model_validate(t) for t in by_type(resources, "Task")]
    [request] = [CommunicationRequest.model_validate(r) for r in by_type(resources, "CommunicationRequest")]
    assert task.restriction.period.end.isoformat() == "2024-05-04T08:15:00+01:00"
    assert task.focus.reference == f"DetectedIssue/{fhir_id('esc', 'esc-c07d1e9b55a2f318')}"
    assert "level 2" in task.businessStatus.text
    assert request.recipient[0].display == "on_call_registrar" and request.priority == "urgent"
    assert request.about[0].reference == f"Task/{task.id}"


def test_a_warning_reminder_does_not_invent_a_deadline() -> None:
    event = load("carepath.reminder.due.v1", "f3-mri-warning-at-12h.json")
    [task] = by_type(render(event), "Task")
    assert "restriction" not in task and task["businessStatus"]["text"] == "due soon"


def test_fhir_ids_are_valid_and_stable() -> None:
    a = fhir_id("esc", "esc-3f9c2a7b1e04d6a5")
    assert a == fhir_id("esc", "esc-3f9c2a7b1e04d6a5") != fhir_id("esc", "esc-3f9c2a7b1e04d6a6")
    assert len(a) <= 64 and all(c.isalnum() or c in "-." for c in a)
