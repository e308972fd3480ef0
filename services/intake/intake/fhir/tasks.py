"""Task: a care step done -> carepath.care_step.recorded.v1.

- ``Task.code`` is the step (code map section ``care_steps``, value sets ``care.*``): decision to treat or
  treatment plan agreed, clinician review, spinal surgical opinion, ... An unlisted code is refused (422)
  naming it.
- ``Task.status`` must be ``completed``: only a completed Task says the step was done. A Task still
  requested, accepted, in progress or on hold, or one cancelled, rejected, failed or entered in error, is
  refused (422) naming the status, never stored as a step done.
- ``Task.for`` is the patient (``Patient/<id>``).
- The time is when the step was done: ``executionPeriod.end`` (the work finished), else
  ``executionPeriod.start`` (when it was carried out), else ``lastModified`` (when the Task was last changed,
  for a completed Task when it was marked done), else ``authoredOn`` (when the Task was created: a Task sent
  once, already completed). The execution period is clinical time and comes before the record-keeping times.
- A clinician review's outcome is ``Task.businessStatus`` (section ``review_conclusions``) -> ``conclusion``.
- A decision to treat's decision is the ``Task.output`` whose type is ``decision`` (any system) or whose
  value is a listed decision (section ``treatment_decisions``) -> ``decision``. A listed decision without a
  contract value (systemic therapy) leaves ``decision`` out.
- ``Task.owner.display``, when given, is who did it (``role``, free text).
"""

from __future__ import annotations

from typing import Any

from intake.fhir import reading
from intake.fhir.context import Context
from intake.fhir.issues import CONFLICT
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

CARE_STEP = "carepath.care_step.recorded.v1"
DONE = {"completed": "completed"}
TIMES = ("executionPeriod.end", "executionPeriod.start", "lastModified", "authoredOn")
ROLE_MAX = 100
DECISION_OUTPUT = "decision"


def map_task(root: Node, ctx: Context) -> Mapped:
    reading.status(root, DONE, "a care step (Task) as done")
    code = root.require("code", "the care step this Task records")
    step = reading.coded(ctx.codes.table("care_steps"), code, "a care step")["step"]
    patient = reading.patient(root, ctx, "for")
    when, when_node = reading.first_time(root, TIMES)
    data: dict[str, Any] = {"step": step}
    origins = {
        "/subject": root.field("for").field("reference"),
        "/time": when_node,
        "/data/step": code,
    }
    if step == "clinician_review":
        status = root.get("businessStatus")
        if status is not None:
            entry = reading.coded(ctx.codes.table("review_conclusions"), status, "a review outcome")
            data["conclusion"] = entry["conclusion"]
            origins["/data/conclusion"] = status
    if step == "decision_to_treat":
        _decision(root, ctx, data, origins)
    role = _role(root.field("owner"))
    if role is not None:
        data["role"] = role
        origins["/data/role"] = root.field("owner").field("display")
    return build(event_type=CARE_STEP, patient=patient, time=when, data=data, origins=origins, root=root)


def _decision(root: Node, ctx: Context, data: dict[str, Any], origins: dict[str, Node]) -> None:
    table = ctx.codes.table("treatment_decisions")
    found: tuple[str, Node] | None = None
    for output in root.items("output"):
        value = output.get("valueCodeableConcept")
        typed = any(c.get("code") == DECISION_OUTPUT for c in reading.codings(output.field("type")))
        if value is None:
            if typed:
                raise output.field("valueCodeableConcept").fail(
                    "required: the decision (valueCodeableConcept) of a decision output"
                )
            continue
        entry = reading.coded(table, value, "a treatment decision") if typed else reading.lookup(table, value)
        if entry is None or entry.get("decision") is None:
            continue  # another output, or a decision the contract has no value for (systemic therapy)
        decision = entry["decision"]
        if found is not None and found[0] != decision:
            raise value.fail(f"decision is stated both {found[0]} and {decision}", CONFLICT)
        found = found or (decision, value)
    if found is not None:
        data["decision"], origins["/data/decision"] = found


def _role(owner: Node) -> str | None:
    display = owner.text("display")
    if display is None or not display.strip():
        return None
    return " ".join(display.split())[:ROLE_MAX]
