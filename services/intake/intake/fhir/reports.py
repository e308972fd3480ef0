"""DiagnosticReport of a spinal imaging study -> carepath.imaging.resulted.v1."""

from __future__ import annotations

from typing import Any

from intake.fhir import reading
from intake.fhir.context import Context
from intake.fhir.issues import CONFLICT
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

IMAGING = "carepath.imaging.resulted.v1"
_STATUSES = {
    "preliminary": "preliminary",
    "partial": "preliminary",
    "final": "final",
    "amended": "amended",
    "corrected": "amended",
    "appended": "amended",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
_TIMES = ("issued", "effectiveDateTime", "effectivePeriod.end", "effectivePeriod.start")


def map_diagnostic_report(root: Node, ctx: Context) -> Mapped:
    code = root.require("code")
    study = reading.coded(ctx.codes.table("imaging_studies"), code, "a spinal imaging study")
    report_status, status_node = reading.status(root, _STATUSES, "an imaging report")
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, _TIMES)
    data: dict[str, Any] = {
        "modality": study["modality"],
        "region": study["region"],
        "report_status": report_status,
    }
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        "/data/modality": code,
        "/data/region": code,
        "/data/report_status": status_node,
    }
    findings: dict[str, str] = {}
    for concept in root.items("conclusionCode"):
        entry = reading.coded(ctx.codes.table("imaging_findings"), concept, "an imaging finding")
        finding, certainty = entry["finding"], entry["certainty"]
        if findings.get(finding, certainty) != certainty:
            raise concept.fail(f"{finding} is stated both {findings[finding]} and {certainty}", CONFLICT)
        if finding not in findings:
            findings[finding] = certainty
            origins[f"/data/findings/{len(findings) - 1}"] = concept
    if findings:
        data["findings"] = [{"code": f, "certainty": c} for f, c in findings.items()]
    conclusion = root.get("conclusion")
    if conclusion is not None:
        data["impression"] = conclusion.value
        origins["/data/impression"] = conclusion
    return build(
        event_type=IMAGING,
        patient=patient,
        time=when,
        data=data,
        origins=origins,
        root=root,
    )
