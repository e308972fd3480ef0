"""Communication that records a care step (its category) -> carepath.care_step.recorded.v1."""

from __future__ import annotations

from typing import Any

from intake.fhir import reading
from intake.fhir.codemap import Entry
from intake.fhir.context import Context
from intake.fhir.issues import CONFLICT
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

CARE_STEP = "carepath.care_step.recorded.v1"
_STATUS = {"completed": "completed"}
# The reason a step carries, for the steps that have one: step -> (code map section, contract field).
_REASONS = {
    "decision_to_treat": ("treatment_decisions", "decision"),
    "clinician_review": ("review_conclusions", "conclusion"),
}


def map_communication(root: Node, ctx: Context) -> Mapped:
    reading.status(root, _STATUS, "a Communication")
    step, step_node = _step(root, ctx)
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, ("sent", "received"))
    data: dict[str, Any] = {"step": step["step"]}
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        "/data/step": step_node,
    }
    reason = _REASONS.get(step["step"])
    if reason is not None:
        section, name = reason
        for concept in root.items("reasonCode"):
            entry = reading.coded(ctx.codes.table(section), concept, f"a {name} for {step['step']}")
            if name in data and data[name] != entry[name]:
                raise concept.fail(f"{name} is stated both {data[name]} and {entry[name]}", CONFLICT)
            data[name] = entry[name]
            origins[f"/data/{name}"] = concept
    return build(event_type=CARE_STEP, patient=patient, time=when, data=data, origins=origins, root=root)


def _step(root: Node, ctx: Context) -> tuple[Entry, Node]:
    categories = root.items("category")
    if not categories:
        root.require("category", "the care step this Communication records")
    found: tuple[Entry, Node] | None = None
    for concept in categories:
        entry = reading.lookup(ctx.codes.table("care_steps"), concept)
        if entry is None:
            continue
        if found is not None and found[0]["step"] != entry["step"]:
            raise concept.fail(f"care step is stated both {found[0]['step']} and {entry['step']}", CONFLICT)
        found = found or (entry, concept)
    if found is None:
        raise reading.unsupported(categories[0], "a care step")
    return found
