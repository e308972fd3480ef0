"""MedicationRequest, MedicationAdministration and MedicationStatement -> carepath.treatment.changed.v1.

The medication is read from medicationCodeableConcept, or from a contained Medication that
medicationReference points at ("#id"); its code gives the treatment category (ATC, SNOMED CT or the
carepath treatment codes in the code map).
"""

from __future__ import annotations

from typing import Any

from intake.fhir import reading
from intake.fhir.codemap import Entry
from intake.fhir.context import Context
from intake.fhir.issues import CODE_INVALID, REQUIRED, VALUE
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

TREATMENT = "carepath.treatment.changed.v1"

# status -> change, per resource type; any other status is refused, naming it.
_REQUEST = {"active": "started", "completed": "stopped", "stopped": "stopped", "cancelled": "stopped"}
_ADMINISTRATION = {"completed": "administered", "in-progress": "administered"}
_STATEMENT = {"active": "started", "completed": "stopped", "stopped": "stopped"}


def map_medication_request(root: Node, ctx: Context) -> Mapped:
    change, status_node = reading.status(root, _REQUEST, "a MedicationRequest")
    if change == "started" and root.get("priorPrescription") is not None:
        change = "dose_changed"  # it replaces an earlier prescription
    # A stop has no date of its own in R4: the version that says so was written at meta.lastUpdated.
    times = ("authoredOn",) if change != "stopped" else ("meta.lastUpdated", "authoredOn")
    dosage = root.items("dosageInstruction")
    dose = _dose_quantity(dosage[0]) if dosage else None
    return _treatment(root, ctx, change, status_node, times, dose, date_allowed=False)


def map_medication_administration(root: Node, ctx: Context) -> Mapped:
    change, status_node = reading.status(root, _ADMINISTRATION, "a MedicationAdministration")
    dosage = root.get("dosage")
    dose = dosage.get("dose") if dosage is not None else None
    times = ("effectiveDateTime", "effectivePeriod.start")
    return _treatment(root, ctx, change, status_node, times, dose, date_allowed=False)


def map_medication_statement(root: Node, ctx: Context) -> Mapped:
    change, status_node = reading.status(root, _STATEMENT, "a MedicationStatement")
    if change == "started":
        times: tuple[str, ...] = ("effectiveDateTime", "effectivePeriod.start", "dateAsserted")
    else:
        times = ("effectivePeriod.end", "effectiveDateTime", "dateAsserted")
    dosage = root.items("dosage")
    dose = _dose_quantity(dosage[0]) if dosage else None
    return _treatment(root, ctx, change, status_node, times, dose, date_allowed=True)


def _treatment(
    root: Node,
    ctx: Context,
    change: str,
    status_node: Node,
    times: tuple[str, ...],
    dose: Node | None,
    *,
    date_allowed: bool,
) -> Mapped:
    concept = medication_concept(root)
    entry = reading.coded(ctx.codes.table("medications"), concept, "a medication")
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, times, date_allowed=date_allowed)
    data: dict[str, Any] = {"category": entry["category"], "change": change}
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        "/data/category": concept,
        "/data/change": status_node,
    }
    agent = agent_name(entry, concept)
    if agent:
        data["agent"] = agent
        origins["/data/agent"] = concept
    if dose is not None:
        data["dose"] = dose_of(dose, ctx)
        origins["/data/dose"] = dose
    return build(event_type=TREATMENT, patient=patient, time=when, data=data, origins=origins, root=root)


def medication_concept(root: Node) -> Node:
    concept = root.get("medicationCodeableConcept")
    if concept is not None:
        return concept
    reference = root.get("medicationReference")
    if reference is None:
        raise root.field("medicationCodeableConcept").fail(
            "required: the medication (medicationCodeableConcept or medicationReference)", REQUIRED
        )
    target = str(reference.value.get("reference") or "")
    for contained in root.items("contained"):
        if contained.value.get("resourceType") == "Medication" and f"#{contained.value.get('id')}" == target:
            return contained.require("code", "the medication's code")
    raise reference.field("reference").fail(
        f"{target!r}: carepath reads a medicationReference only to a contained Medication (#id)", VALUE
    )


def agent_name(entry: Entry, concept: Node) -> str | None:
    named = entry.get("agent") or concept.value.get("text")
    if named:
        return str(named)[:200]
    for coding in reading.codings(concept):
        if coding.get("display"):
            return str(coding["display"])[:200]
    return None


def _dose_quantity(dosage: Node) -> Node | None:
    rates = dosage.items("doseAndRate")
    return rates[0].get("doseQuantity") if rates else None


def dose_of(quantity: Node, ctx: Context) -> dict[str, Any]:
    value = quantity.require("value")
    code = quantity.get("code")
    unit_node = code if code is not None else quantity.field("unit")
    unit = ctx.codes.unit("dose_units", _text(unit_node.value))
    if unit is None:
        raise unit_node.fail(
            f"dose unit {unit_node.value!r} is not a UCUM unit carepath reads "
            f"({', '.join(ctx.codes.units['dose_units'])}); it is never converted by guess",
            CODE_INVALID,
        )
    return {"value": value.value, "unit": unit}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
