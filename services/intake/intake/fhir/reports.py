"""DiagnosticReport of a spinal imaging study -> carepath.imaging.resulted.v1.

Findings come from ``conclusionCode`` (the code map's imaging_findings) and from the report's text - the
plain-text ``presentedForm`` and the ``conclusion`` - read by the same radiology rules as an HL7 report
(:mod:`intake.hl7.radiology`), so a report sent with text only is read like its HL7 twin. A coded finding
wins over the text's reading of the same finding; a conclusionCode carepath does not know is not read and
the answer says so, and the text is still read.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Any

from intake.fhir import reading
from intake.fhir.context import Context
from intake.fhir.issues import CONFLICT, NOT_SUPPORTED, Issue
from intake.fhir.mapped import Mapped, build, with_unread
from intake.fhir.node import Node
from intake.hl7.radiology import RadiologyRules, read_report
from intake.hl7.radiology_rules import load_rules

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
_TEXT_TYPES = ("text/plain",)
MAX_TEXT = 100_000


@functools.cache
def _rules() -> RadiologyRules:
    return load_rules()


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
    evidence: dict[str, str] = {}
    unread: list[Node] = []
    for concept in root.items("conclusionCode"):
        entry = reading.lookup(ctx.codes.table("imaging_findings"), concept)
        if entry is None:
            unread.append(concept)
            continue
        finding, certainty = entry["finding"], entry["certainty"]
        if findings.get(finding, certainty) != certainty:
            raise concept.fail(f"{finding} is stated both {findings[finding]} and {certainty}", CONFLICT)
        if finding not in findings:
            findings[finding] = certainty
            origins[f"/data/findings/{len(findings) - 1}"] = concept
    text, text_node = _report_text(root)
    if text:
        read = read_report(text, _rules())
        for found in read.findings:
            if found.code not in findings:
                findings[found.code] = found.certainty
                evidence[found.code] = found.evidence
                origins[f"/data/findings/{len(findings) - 1}"] = text_node
        if read.sins_score is not None:
            data["sins_score"] = read.sins_score
            origins["/data/sins_score"] = text_node
    if findings:
        data["findings"] = [
            {"code": f, "certainty": c, **({"evidence": evidence[f]} if f in evidence else {})}
            for f, c in findings.items()
        ]
    conclusion = root.get("conclusion")
    if conclusion is not None:
        data["impression"] = conclusion.value
        origins["/data/impression"] = conclusion
    mapped = build(event_type=IMAGING, patient=patient, time=when, data=data, origins=origins, root=root)
    issues = [
        Issue(
            NOT_SUPPORTED,
            f"not read: {reading.describe_codings(node)[:200]} is not an imaging finding carepath reads; the "
            "report's text was read",
            node.expression,
            node.pointer,
            severity="warning",
        )
        for node in unread
    ]
    codes = tuple(
        (str(c.get("system", "")), str(c.get("code", ""))) for n in unread for c in reading.codings(n)
    )
    return with_unread(mapped, issues, codes)


def _report_text(root: Node) -> tuple[str, Node]:
    """The report's text: each plain-text presentedForm (base64 data), then the conclusion."""
    parts: list[str] = []
    where = root.field("conclusion")
    for form in root.items("presentedForm"):
        content_type = str(form.value.get("contentType") or "").split(";")[0].strip().lower()
        data = form.value.get("data")
        if content_type not in _TEXT_TYPES or not isinstance(data, str):
            continue
        try:
            parts.append(base64.b64decode(data, validate=True).decode("utf-8", errors="replace")[:MAX_TEXT])
        except (binascii.Error, ValueError):
            raise form.field("data").fail("presentedForm.data is not base64") from None
        where = form
    conclusion = root.text("conclusion")
    if conclusion:
        parts.append(conclusion[:MAX_TEXT])
    return "\n".join(parts), where
