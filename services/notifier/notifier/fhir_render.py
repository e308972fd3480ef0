"""Escalations and reminders as FHIR R4 resources, for a hospital's FHIR server.

* escalation -> DetectedIssue (the alert: rule, severity, reason, guideline, evidence references) and a
  Flag pointing at it (the banner an EPR shows), a CommunicationRequest (the notification) and one Task
  per action asked for, its deadline in ``restriction.period.end``;
* reminder -> a CommunicationRequest to the role at this level of the chain and the Task for the
  awaited step (for an overdue reminder, ``restriction.period.end`` is the deadline that passed).

Ids are derived from carepath's own ids, so a re-delivery (or a later revision) updates the same
resources: the Bundle is a transaction of PUTs. Pure: the event in, plain JSON out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

CODE_SYSTEM = "https://carepath.example/fhir/CodeSystem"
RULES = f"{CODE_SYSTEM}/rule"
EXPECTATIONS = f"{CODE_SYSTEM}/expectation"
ESCALATION_ID = "urn:carepath:escalation-id"
EXPECTATION_ID = "urn:carepath:expectation-id"
EVENT_ID = "urn:carepath:event-id"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
_FHIR_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?$")

ISSUE_SEVERITY = {"emergency": "high", "urgent": "moderate", "routine": "low"}
PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}


def fhir_id(prefix: str, *parts: str) -> str:
    """A FHIR id (letters, digits, - and ., at most 64) that is the same for the same carepath ids."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def render(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources for one escalation or reminder CloudEvent."""
    if str(event["type"]).startswith("carepath.escalation."):
        return render_escalation(event)
    if str(event["type"]).startswith("carepath.reminder."):
        return render_reminder(event)
    raise ValueError(f"{event['type']} is not an escalation or reminder")


def transaction(event: Mapping[str, Any]) -> dict[str, Any]:
    """A transaction Bundle of PUTs: idempotent on the receiving server."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in render(event)
        ],
    }


# --- escalations ------------------------------------------------------------------------------------------


def render_escalation(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    d = event["data"]
    patient = _patient(event)
    open_ = d["status"] == "open"
    issue_id = fhir_id("esc", d["escalation_id"])
    issue_ref = {"reference": f"DetectedIssue/{issue_id}"}
    detail = f"{d['reason']} Source: {d['source']}. Pathway {d['pathway']['id']} {d['pathway']['version']}."
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": issue_id,
        "identifier": [{"system": ESCALATION_ID, "value": d["escalation_id"]}],
        "status": "final" if d["revision"] == 1 and open_ else "amended",
        "code": {
            "coding": [{"system": RULES, "code": d["rule"]["id"], "display": d["rule"]["name"]}],
            "text": d["rule"]["name"],
        },
        "severity": ISSUE_SEVERITY[d["severity"]],
        "patient": patient,
        "identifiedDateTime": d["raised_at"],
        "detail": detail,
        "evidence": [_evidence(e) for e in d["evidence"]],
    }
    if not open_:
        issue["mitigation"] = [{"action": {"text": d.get("resolution") or "resolved"}, "date": event["time"]}]
    flag: dict[str, Any] = {
        "resourceType": "Flag",
        "id": fhir_id("flag", d["escalation_id"]),
        "extension": [{"url": FLAG_DETAIL, "valueReference": issue_ref}],
        "identifier": [{"system": ESCALATION_ID, "value": d["escalation_id"]}],
        "status": "active" if open_ else "inactive",
        "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}],
        "code": {"text": f"{d['severity'].upper()}: {d['reason']}"},
        "subject": patient,
        "period": {"start": d["raised_at"], **({} if open_ else {"end": event["time"]})},
    }
    actions = d["actions"]
    lines = [d["reason"], *(f"{a['action']} by {a['deadline']}" for a in actions)]
    if not open_:
        lines = [f"Resolved: {d.get('resolution') or d['reason']}"]
    request: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "id": fhir_id("cr", str(event["id"])),
        "identifier": [{"system": EVENT_ID, "value": str(event["id"])}],
        "status": "active",
        "priority": PRIORITY[d["severity"]],
        "subject": patient,
        "about": [issue_ref],
        "reasonReference": [issue_ref],
        "payload": [{"contentString": "\n".join(lines)}],
        "authoredOn": event["time"],
    }
    if d.get("deadline"):
        request["occurrenceDateTime"] = d["deadline"]
    tasks = [
        _task(
            fhir_id("task", d["escalation_id"], str(i)),
            a["action"],
            a["deadline"],
            status="requested" if open_ else "cancelled",
            priority=PRIORITY[d["severity"]],
            patient=patient,
            focus=issue_ref,
            authored=d["raised_at"],
            identifier={"system": ESCALATION_ID, "value": f"{d['escalation_id']}#{i}"},
        )
        for i, a in enumerate(actions)
    ]
    return [issue, flag, request, *tasks]


def _evidence(e: Mapping[str, Any]) -> dict[str, Any]:
    value = e["value"]
    shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    text = f"{e['fact']}: {shown}{' ' + e['unit'] if e.get('unit') else ''}"
    if e.get("threshold"):
        text += f" ({e['threshold']})"
    event_id = str(e["event_id"])
    if _FHIR_REFERENCE.match(event_id):  # the event came in as a FHIR resource: point at it
        detail: dict[str, Any] = {"reference": event_id, "display": e["event_type"]}
    else:
        detail = {"identifier": {"system": EVENT_ID, "value": event_id}, "display": e["event_type"]}
    return {"code": [{"text": text}], "detail": [detail]}


# --- reminders --------------------------------------------------------------------------------------------


def render_reminder(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    d = event["data"]
    patient = _patient(event)
    overdue = d["kind"] == "overdue"
    focus = (
        {"reference": f"DetectedIssue/{fhir_id('esc', d['escalation_id'])}"}
        if d.get("escalation_id")
        else None
    )
    task_id = fhir_id("task", d["expectation_id"])
    task = _task(
        task_id,
        d["expected"],
        d["due_at"] if overdue else None,
        status="requested",
        priority="urgent" if overdue else "routine",
        patient=patient,
        focus=focus,
        authored=d["fired_at"],
        identifier={"system": EXPECTATION_ID, "value": d["expectation_id"]},
    )
    task["code"] = {
        "coding": [
            {"system": EXPECTATIONS, "code": d["expectation"]["id"], "display": d["expectation"]["name"]}
        ]
    }
    task["businessStatus"] = {"text": f"overdue (chain level {d['level']})" if overdue else "due soon"}
    when = "was due" if overdue else "is due"
    text = (
        f"{d['expected']} {when} at {d['due_at']}. Level {d['level']}: {d['notify']}. Source: {d['source']}."
    )
    request: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "id": fhir_id("cr", str(event["id"])),
        "identifier": [{"system": EVENT_ID, "value": str(event["id"])}],
        "status": "active",
        "priority": "urgent" if overdue else "routine",
        "subject": patient,
        "about": [{"reference": f"Task/{task_id}"}],
        "recipient": [{"display": d["notify"]}],
        "payload": [{"contentString": text}],
        "authoredOn": d["fired_at"],
        "occurrenceDateTime": d["fired_at"],
    }
    if focus:
        request["reasonReference"] = [focus]
    return [request, task]


def _task(
    task_id: str,
    description: str,
    deadline: str | None,
    *,
    status: str,
    priority: str,
    patient: dict[str, str],
    focus: dict[str, str] | None,
    authored: str,
    identifier: dict[str, str],
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [identifier],
        "status": status,
        "intent": "order",
        "priority": priority,
        "description": description,
        "for": patient,
        "authoredOn": authored,
    }
    if focus:
        task["focus"] = focus
    if deadline:
        task["restriction"] = {"period": {"end": deadline}}
    return task


def _patient(event: Mapping[str, Any]) -> dict[str, str]:
    return {"reference": f"Patient/{event['subject']}"}
