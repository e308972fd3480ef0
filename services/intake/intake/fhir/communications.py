"""Communication: a care step, or an escalation acknowledgement, told by its category.

- A category in the code map section ``acknowledgements`` (value set ``care.escalation_acknowledgement``)
  makes it an acknowledgement -> ``carepath.escalation.acknowledged.v1``, the event
  ``POST /v1/acknowledgements`` publishes (built by :mod:`intake.acknowledging`; the FHIR route checks the
  id with followup before storing it). The escalation is ``Communication.about`` by identifier, system
  ``https://carepath.example/escalation``; ``statusReason`` in ``acknowledgement_overrides`` (value set
  ``care.acknowledgement_override``) makes it an override, whose reason is ``statusReason.text`` (else the
  payload text); any other statusReason is refused. The reason of a plain acknowledgement is the payload
  text. The role is ``sender.display`` when it names a carepath role ("MSCC coordinator", "Consultant",
  "GP", ...), else ``other``. The clinician is the sender's ``reference`` (``Practitioner/...``), else its
  ``identifier`` (``system|value``), recorded as ``acknowledged_by`` asserted by the engine that sent it
  (``verified: false``; the engine is ``sent_by``), with ``display`` as the name when it is not a role.
- A category in ``care_steps`` (value sets ``care.*``) -> ``carepath.care_step.recorded.v1``; ``reasonCode``
  gives the decision of a decision to treat or the conclusion of a clinician review; ``sender.display`` is
  who did it (``role``, free text).

Only ``status`` completed is read; the time is ``sent``, else ``received``.
"""

from __future__ import annotations

from typing import Any

from intake import acknowledging
from intake.fhir import reading
from intake.fhir.codemap import CodeTable, Entry
from intake.fhir.context import Context
from intake.fhir.issues import CONFLICT, REQUIRED, VALUE
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

CARE_STEP = "carepath.care_step.recorded.v1"
ESCALATION_SYSTEM = "https://carepath.example/escalation"
_STATUS = {"completed": "completed"}
_TIMES = ("sent", "received")
ROLE_MAX = 100
# The reason a step carries, for the steps that have one: step -> (code map section, contract field).
_REASONS = {
    "decision_to_treat": ("treatment_decisions", "decision"),
    "clinician_review": ("review_conclusions", "conclusion"),
}


def map_communication(root: Node, ctx: Context) -> Mapped:
    reading.status(root, _STATUS, "a Communication")
    categories = root.items("category")
    if not categories:
        root.require("category", "the care step or acknowledgement this Communication records")
    ack = _first(ctx.codes.table("acknowledgements"), categories)
    step = _step(ctx, categories)
    if ack is not None and step is not None:
        raise step[1].fail(
            f"the categories say both an escalation acknowledgement and the care step {step[0]['step']}",
            CONFLICT,
        )
    if ack is not None:
        return _acknowledgement(root, ctx, ack)
    if step is None:
        raise reading.unsupported(categories[0], "a care step or an escalation acknowledgement")
    return _care_step(root, ctx, step)


# --- care step -------------------------------------------------------------------------------------------


def _care_step(root: Node, ctx: Context, step: tuple[Entry, Node]) -> Mapped:
    name = step[0]["step"]
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, _TIMES)
    data: dict[str, Any] = {"step": name}
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        "/data/step": step[1],
    }
    reason = _REASONS.get(name)
    if reason is not None:
        section, field = reason
        for concept in root.items("reasonCode"):
            value = reading.coded(ctx.codes.table(section), concept, f"a {field} for {name}").get(field)
            if value is None:  # read, but no contract value (a systemic therapy decision)
                continue
            if field in data and data[field] != value:
                raise concept.fail(f"{field} is stated both {data[field]} and {value}", CONFLICT)
            data[field] = value
            origins[f"/data/{field}"] = concept
    sender = root.field("sender")
    display = sender.text("display")
    if display and display.strip():
        data["role"] = " ".join(display.split())[:ROLE_MAX]
        origins["/data/role"] = sender.field("display")
    return build(event_type=CARE_STEP, patient=patient, time=when, data=data, origins=origins, root=root)


def _step(ctx: Context, categories: list[Node]) -> tuple[Entry, Node] | None:
    found: tuple[Entry, Node] | None = None
    for concept in categories:
        entry = reading.lookup(ctx.codes.table("care_steps"), concept)
        if entry is None:
            continue
        if found is not None and found[0]["step"] != entry["step"]:
            raise concept.fail(f"care step is stated both {found[0]['step']} and {entry['step']}", CONFLICT)
        found = found or (entry, concept)
    return found


def _first(table: CodeTable, concepts: list[Node]) -> Node | None:
    for concept in concepts:
        if reading.lookup(table, concept) is not None:
            return concept
    return None


# --- escalation acknowledgement -------------------------------------------------------------------------


def _acknowledgement(root: Node, ctx: Context, category: Node) -> Mapped:
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, _TIMES)
    target, target_node = _target(root)
    override = False
    reason_node: Node | None = None
    status_reason = root.get("statusReason")
    if status_reason is not None:
        reading.coded(
            ctx.codes.table("acknowledgement_overrides"), status_reason, "an acknowledgement status reason"
        )
        override = True
        if status_reason.text("text"):
            reason_node = status_reason.field("text")
    if reason_node is None:
        reason_node = _payload_text(root)
    if override and reason_node is None:
        raise (
            root.field("statusReason")
            .field("text")
            .fail(
                "required: an override needs a reason (statusReason.text or a payload contentString)",
                REQUIRED,
            )
        )
    reason = " ".join(str(reason_node.value).split()) if reason_node is not None else None
    if reason is not None and len(reason) > acknowledging.REASON_MAX:
        reason = reason[: acknowledging.REASON_MAX - 1] + "…"
    role, role_node = _ack_role(root.field("sender"))
    data = acknowledging.acknowledgement_data(target, role, reason, override)
    who = _sender(root.field("sender"), display_is_role=role != "other")
    if who is not None:
        data["acknowledged_by"] = who
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        "/data/target_id": target_node,
        "/data/role": role_node,
        "/data": category,
    }
    if reason_node is not None:
        origins["/data/reason"] = reason_node
    if status_reason is not None:
        origins["/data/override"] = status_reason
    return build(
        event_type=acknowledging.ACK_TYPE, patient=patient, time=when, data=data, origins=origins, root=root
    )


def _target(root: Node) -> tuple[str, Node]:
    named = [
        about.field("identifier")
        for about in root.items("about")
        if about.field("identifier").text("system") == ESCALATION_SYSTEM
    ]
    if not named:
        raise root.field("about").fail(
            f"required: the escalation acknowledged (about.identifier with system {ESCALATION_SYSTEM})",
            REQUIRED,
        )
    values = {str(n.field("value").value) for n in named}
    if len(values) > 1:
        raise (
            named[1]
            .field("value")
            .fail("one Communication acknowledges one escalation; send one per escalation", CONFLICT)
        )
    value = named[0].field("value")
    if not acknowledging.valid_target_id(value.value):
        raise value.fail(
            f"{str(value.value)[:60]!r} is not an escalation id carepath issued "
            f"(1-{acknowledging.TARGET_ID_MAX} letters, digits and . _ : -)",
            VALUE,
        )
    return str(value.value), value


def _payload_text(root: Node) -> Node | None:
    for payload in root.items("payload"):
        text = payload.text("contentString")
        if text and text.strip():
            return payload.field("contentString")
    return None


def _sender(sender: Node, *, display_is_role: bool) -> dict[str, Any] | None:
    """The clinician a Communication's sender names (a reference, else an identifier), as the engine
    asserts it; None when it names nobody. Values that do not fit the contract are left out, not refused:
    the acknowledgement itself is still the engine's."""
    reference = sender.text("reference")
    identifier = sender.field("identifier")
    value, system = identifier.text("value"), identifier.text("system")
    subject = reference or (f"{system}|{value}" if system and value else value)
    subject = " ".join(subject.split()) if subject else None
    if not subject or len(subject) > acknowledging.CLINICIAN_ID_MAX or not subject.isprintable():
        return None
    who: dict[str, Any] = {"subject": subject}
    display = " ".join((sender.text("display") or "").split())
    if display and not display_is_role and len(display) <= acknowledging.CLINICIAN_NAME_MAX:
        who["name"] = display
    who["verified"] = False
    return who


def _ack_role(sender: Node) -> tuple[str, Node]:
    """The carepath role the sender's display names ("MSCC coordinator" -> mscc_coordinator), else other."""
    display = sender.text("display") or ""
    name = "_".join(display.replace("-", " ").lower().split())
    if name in acknowledging.ROLES:
        return name, sender.field("display")
    return "other", sender
