"""Condition -> carepath.diagnosis.recorded.v1: a cancer (primary site and status) or a risk factor; or, for
a symptom or sign recorded as a diagnosis (urinary retention, faecal incontinence, confusion),
carepath.symptom.recorded.v1."""

from __future__ import annotations

from typing import Any

from intake.fhir import reading
from intake.fhir.codemap import Entry
from intake.fhir.context import Context
from intake.fhir.issues import REQUIRED, VALUE
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

DIAGNOSIS = "carepath.diagnosis.recorded.v1"
SYMPTOM = "carepath.symptom.recorded.v1"
# The course of a symptom recorded as a Condition, from its clinical status (active: the symptom is present).
_SYMPTOM_STATUS = {"remission": "improving", "inactive": "improving", "resolved": "improving"}
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_STATUS = {
    "active": "active",
    "recurrence": "active",
    "relapse": "active",
    "remission": "remission",
    "inactive": "history",
    "resolved": "history",
}
_VERIFIED = {
    "confirmed": "confirmed",
    "provisional": "provisional",
    "differential": "provisional",
    "unconfirmed": "provisional",
    "refuted": "refuted",
    "entered-in-error": "entered_in_error",
}
WITHDRAWN = frozenset({"refuted", "entered_in_error"})
_TIMES = ("recordedDate", "onsetDateTime", "onsetPeriod.start")


def map_condition(root: Node, ctx: Context) -> Mapped:
    code = root.require("code")
    cancer = reading.lookup(ctx.codes.table("cancers"), code)
    risk = None if cancer is not None else reading.lookup(ctx.codes.table("risk_factors"), code)
    if cancer is None and risk is None:
        finding = reading.lookup(ctx.codes.table("pain_features"), code)
        if finding is not None:
            return _symptom(root, ctx, code, finding)
        raise reading.unsupported(code, "a cancer, a risk factor or a symptom")
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, _TIMES, date_allowed=True)
    origins = {"/subject": root.field("subject").field("reference"), "/time": when_node}
    data: dict[str, Any] = {}
    verification = _verification(root)
    if verification is not None:
        data["verification"] = verification
        origins["/data/verification"] = root.field("verificationStatus")
    if cancer is not None:
        data["cancer"] = _cancer(root, cancer, verification)
        origins["/data/cancer/primary_site"] = code
        origins["/data/cancer/status"] = root.field("clinicalStatus")
    else:
        assert risk is not None
        data["risk_factors"] = [risk["risk_factor"]]
        origins["/data/risk_factors"] = code
    return build(
        event_type=DIAGNOSIS,
        patient=patient,
        time=when,
        data=data,
        origins=origins,
        root=root,
    )


def _symptom(root: Node, ctx: Context, code: Node, finding: Entry) -> Mapped:
    verification = _verification(root)
    if verification in WITHDRAWN:
        raise root.field("verificationStatus").fail(
            f"a symptom recorded as {verification.replace('_', ' ')} cannot be withdrawn: carepath keeps symptoms "
            "as they were recorded; record its course instead (clinicalStatus resolved)",
            VALUE,
        )
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, _TIMES, date_allowed=True)
    data: dict[str, Any] = {finding["feature"]: [finding["value"]]}
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        f"/data/{finding['feature']}": code,
    }
    clinical = root.get("clinicalStatus")
    if clinical is not None:
        status = _coded_status(clinical, _CLINICAL, _STATUS, "clinical status")
        course = _SYMPTOM_STATUS.get(_clinical_code(clinical) or "")
        if status != "active" and course is not None:
            data["status"] = course
            origins["/data/status"] = clinical
    return build(event_type=SYMPTOM, patient=patient, time=when, data=data, origins=origins, root=root)


def _clinical_code(concept: Node) -> str | None:
    for coding in reading.codings(concept):
        if coding.get("system") == _CLINICAL and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _cancer(root: Node, entry: Entry, verification: str | None) -> dict[str, str]:
    cancer = {"primary_site": entry["primary_site"]}
    clinical = root.get("clinicalStatus")
    if clinical is not None:
        cancer["status"] = _coded_status(clinical, _CLINICAL, _STATUS, "clinical status")
    elif verification in WITHDRAWN:
        cancer["status"] = "history"  # not read: a withdrawn record only withdraws the earlier one
    else:
        raise root.field("clinicalStatus").fail(
            "required for a cancer: active, recurrence, relapse, remission, inactive or resolved", REQUIRED
        )
    metastases = entry.get("spinal_metastases")
    if metastases:
        cancer["spinal_metastases"] = metastases
    return cancer


def _verification(root: Node) -> str | None:
    node = root.get("verificationStatus")
    if node is None:
        return None  # the contract's default: confirmed
    return _coded_status(node, _VERIFICATION, _VERIFIED, "verification status")


def _coded_status(concept: Node, system: str, mapping: dict[str, str], what: str) -> str:
    for coding in reading.codings(concept):
        if coding.get("system") == system and coding.get("code") in mapping:
            return mapping[str(coding["code"])]
    raise concept.fail(
        f"{reading.describe_codings(concept)} is not a {what} from {system} ({', '.join(mapping)})", VALUE
    )
