"""The worklist view of one patient's follow-up state: open escalations and pending expectations.

Pure: rows are built from the state and ``now``; filtering and merging are plain functions, so the API
can gather rows from every worker and answer the same whichever worker is asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carepath.envelope import iso, parse_time
from followup.core import PatientExpectations

ACKNOWLEDGEMENT_RULE = "A1"
SEVERITIES = ("emergency", "urgent", "routine")


def rows(exps: PatientExpectations, now: datetime) -> dict[str, list[dict[str, Any]]]:
    items = exps.open_items()
    expectations = []
    for item in items:
        due = parse_time(item["due_at"])
        expectations.append({"patient_id": exps.patient_id, **item, "overdue": due <= now})
    escalations = []
    for esc_id, rule in exps.escalations.items():
        related = [i for i in items if i.get("escalation_id") == esc_id]
        pending_ack = [i for i in related if i["rule"] == ACKNOWLEDGEMENT_RULE]
        severity = next((i["severity"] for i in related if i.get("severity")), None)
        escalations.append(
            {
                "patient_id": exps.patient_id,
                "escalation_id": esc_id,
                "rule": rule,
                "severity": severity,
                "acknowledged": not pending_ack,
                "open_expectations": sorted(
                    {i["rule"] for i in related if i["rule"] != ACKNOWLEDGEMENT_RULE}
                ),
                "overdue": any(parse_time(i["due_at"]) <= now for i in related),
            }
        )
    return {"escalations": escalations, "expectations": expectations}


def keep(row: dict[str, Any], severity: str | None, overdue: bool | None) -> bool:
    if severity is not None and row.get("severity") != severity:
        return False
    return overdue is None or bool(row.get("overdue")) == overdue


def merge(parts: list[dict[str, list[dict[str, Any]]]], now: datetime) -> dict[str, Any]:
    """One worklist from every worker's part, most urgent first."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    escalations = [r for p in parts for r in p["escalations"]]
    expectations = [r for p in parts for r in p["expectations"]]
    escalations.sort(
        key=lambda r: (rank.get(r.get("severity") or "", 9), r["acknowledged"], r["escalation_id"])
    )
    expectations.sort(key=lambda r: (r["due_at"], r["expectation_id"]))
    return {"generated_at": iso(now), "escalations": escalations, "expectations": expectations}
