"""One escalation's life: raised, updated when its severity rises, resolved when its question closes.

At most one escalation per patient per rule (or rule group) is open at a time. Its id is deterministic:
the same patient, rule and episode always give the same id, so a replay never doubles an alert; the
CloudEvent id adds the revision.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

from triage.core.events import ESCALATION_RAISED, ESCALATION_RESOLVED, ESCALATION_UPDATED
from triage.core.finding import Finding, Resolution
from triage.core.outcome import Escalation
from triage.core.pathway import Pathway, Rule
from triage.core.times import iso

OpenRecord = dict[str, Any]


def escalation_id(patient_id: str, key: str, episode: int) -> str:
    digest = sha256(f"{patient_id}|{key}|{episode}".encode()).hexdigest()[:24]
    return f"esc-{key.lower()}-{digest}"


def raise_escalation(
    patient_id: str, key: str, episode: int, rule: Rule, finding: Finding, raised_at: str, pathway: Pathway
) -> tuple[OpenRecord, Escalation]:
    esc_id = escalation_id(patient_id, key, episode)
    data = _data(esc_id, 1, rule, finding, raised_at, pathway)
    record = {
        "id": esc_id,
        "revision": 1,
        "rule": rule.id,
        "severity": data["severity"],
        "last": finding.last,
        "data": data,
    }
    return record, _event(ESCALATION_RAISED, "raised", data)


def update_escalation(
    record: OpenRecord, rule: Rule, finding: Finding, pathway: Pathway
) -> tuple[OpenRecord, Escalation]:
    revision = record["revision"] + 1
    data = _data(record["id"], revision, rule, finding, record["data"]["raised_at"], pathway)
    updated = {
        "id": record["id"],
        "revision": revision,
        "rule": rule.id,
        "severity": data["severity"],
        "last": max(record["last"], finding.last),
        "data": data,
    }
    return updated, _event(ESCALATION_UPDATED, "updated", data)


def resolve_escalation(record: OpenRecord, resolution: Resolution) -> Escalation:
    data = dict(record["data"])
    data["revision"] = record["revision"] + 1
    data["status"] = "resolved"
    data["evidence"] = resolution.evidence
    data["resolution"] = resolution.text
    return _event(ESCALATION_RESOLVED, "resolved", data)


def _data(
    esc_id: str, revision: int, rule: Rule, finding: Finding, raised_at: str, pathway: Pathway
) -> dict[str, Any]:
    explanation = finding.explain()
    reason = rule.reason[finding.case].format_map(explanation.words)
    applicable = rule.actions_for(finding.case, finding.conditions)
    due = [finding.anchor + a.within_us for a in applicable]
    actions = [
        {"action": a.action, "deadline": iso(t), "within": a.within}
        for a, t in zip(applicable, due, strict=True)
    ]
    deadline = actions[due.index(min(due))]["deadline"]  # the soonest action's
    return {
        "escalation_id": esc_id,
        "revision": revision,
        "status": "open",
        "severity": rule.severity[finding.case],
        "rule": {"id": rule.id, "name": rule.name},
        "reason": reason[:1].upper() + reason[1:],
        "evidence": explanation.evidence,
        "actions": actions,
        "deadline": deadline,
        "source": rule.source,
        "pathway": {"id": pathway.id, "version": pathway.version},
        "raised_at": raised_at,
    }


def _event(event_type: str, change: str, data: dict[str, Any]) -> Escalation:
    return Escalation(
        cloudevent_id=f"{data['escalation_id']}.r{data['revision']}",
        type=event_type,
        change=change,
        rule_id=data["rule"]["id"],
        severity=data["severity"],
        data=data,
    )
