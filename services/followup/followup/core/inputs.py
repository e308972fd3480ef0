"""What the follow-up core reads: clinical events, escalation events, acknowledgements, and ticks.

``parse_input`` turns a CloudEvent (already validated against the contract upstream) into an ``Input``
and checks the few fields this service relies on, so a malformed event fails here with a clear message
instead of deep inside ``advance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from followup.core.vocabulary import SEVERITIES

PAIN_REPORTED: Final = "carepath.pain.reported.v1"
SYMPTOM_RECORDED: Final = "carepath.symptom.recorded.v1"
IMAGING_RESULTED: Final = "carepath.imaging.resulted.v1"
TREATMENT_CHANGED: Final = "carepath.treatment.changed.v1"
LAB_RESULTED: Final = "carepath.lab.resulted.v1"
DIAGNOSIS_RECORDED: Final = "carepath.diagnosis.recorded.v1"
CARE_STEP_RECORDED: Final = "carepath.care_step.recorded.v1"
ESCALATION_RAISED: Final = "carepath.escalation.raised.v1"
ESCALATION_UPDATED: Final = "carepath.escalation.updated.v1"
ESCALATION_RESOLVED: Final = "carepath.escalation.resolved.v1"
ESCALATION_ACKNOWLEDGED: Final = "carepath.escalation.acknowledged.v1"

# The event kinds a pathway pattern names, by CloudEvent type.
KIND_BY_TYPE: Final[dict[str, str]] = {
    PAIN_REPORTED: "pain_report",
    SYMPTOM_RECORDED: "symptom",
    IMAGING_RESULTED: "imaging",
    TREATMENT_CHANGED: "treatment",
    LAB_RESULTED: "lab",
    DIAGNOSIS_RECORDED: "diagnosis",
    CARE_STEP_RECORDED: "care_step",
    ESCALATION_RAISED: "escalation_raised",
    ESCALATION_UPDATED: "escalation_raised",
    ESCALATION_RESOLVED: "escalation_resolved",
    ESCALATION_ACKNOWLEDGED: "acknowledgement",
}

# Fields whose type is checked here because the core reads them: (field, required).
_STRING_FIELDS: Final[dict[str, tuple[tuple[str, bool], ...]]] = {
    # modality and region are absent only for a SINS scored on its own
    IMAGING_RESULTED: (("modality", False), ("region", False), ("report_status", True)),
    TREATMENT_CHANGED: (("category", True), ("change", True), ("agent", False)),
    LAB_RESULTED: (("test", True),),
    CARE_STEP_RECORDED: (("step", True), ("decision", False), ("conclusion", False)),
    DIAGNOSIS_RECORDED: (("verification", False),),
    ESCALATION_ACKNOWLEDGED: (("target_id", True), ("role", True)),
}


class InputError(ValueError):
    """The event cannot be read by the follow-up service; the message names the field."""


@dataclass(frozen=True, init=False)
class Input:
    """One event for one patient. ``time`` is when it happened clinically (timezone-aware). ``trace``: the
    W3C trace context of the work that read it (an expectation it opens keeps it for its reminders)."""

    id: str
    type: str
    patient_id: str
    time: datetime
    data: Mapping[str, Any] = field(repr=False)
    trace: str | None = None
    # The pattern kind: an escalation update that closes the escalation counts as a resolution. Set once
    # here (every pattern asks for it; a cached property on a frozen class costs several microseconds).
    kind: str = field(init=False, repr=False, compare=False)

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        id: str,
        type: str,
        patient_id: str,
        time: datetime,
        data: Mapping[str, Any],
        trace: str | None = None,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "patient_id", patient_id)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "trace", trace)
        if type == ESCALATION_UPDATED and data.get("status") == "resolved":
            kind = "escalation_resolved"
        else:
            kind = KIND_BY_TYPE[type]
        object.__setattr__(self, "kind", kind)


@dataclass(frozen=True)
class Tick:
    """Time has passed: fire whatever is due at ``now``."""


def parse_input(cloudevent: Mapping[str, Any]) -> Input:
    """Read a CloudEvent of an input, escalation or acknowledgement type, or raise ``InputError``."""
    if not isinstance(cloudevent, Mapping):
        raise InputError("event is not a JSON object")
    event_id = _text(cloudevent, "id", "/id")
    event_type = _text(cloudevent, "type", "/type")
    if event_type not in KIND_BY_TYPE:
        raise InputError(f"/type: {event_type!r} is not an event the follow-up service reads")
    subject = _text(cloudevent, "subject", "/subject")
    time = parse_time(cloudevent.get("time"), "/time")
    data = cloudevent.get("data")
    if not isinstance(data, Mapping):
        raise InputError("/data: must be an object")
    for name, required in _STRING_FIELDS.get(event_type, ()):
        value = data.get(name)
        if (value is None and required) or (value is not None and not isinstance(value, str)):
            raise InputError(f"/data/{name}: {'required ' if required else ''}string expected")
    if event_type == IMAGING_RESULTED:
        _check_findings(data.get("findings"))
    elif event_type in (ESCALATION_RAISED, ESCALATION_UPDATED, ESCALATION_RESOLVED):
        _check_escalation(data, event_type)
    elif event_type == DIAGNOSIS_RECORDED and "cancer" in data and not isinstance(data["cancer"], Mapping):
        raise InputError("/data/cancer: must be an object")
    elif event_type == ESCALATION_ACKNOWLEDGED and not isinstance(data.get("override", False), bool):
        raise InputError("/data/override: must be a boolean")
    trace = cloudevent.get("traceparent")
    return Input(event_id, event_type, subject, time, data, trace if isinstance(trace, str) else None)


def parse_time(value: object, where: str) -> datetime:
    """An RFC 3339 date-time with an offset (``T`` and ``Z`` in either case, as RFC 3339 allows)."""
    if not isinstance(value, str):
        raise InputError(f"{where}: date-time string expected")
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise InputError(f"{where}: {value!r} is not an RFC 3339 date-time") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InputError(f"{where}: {value!r} has no UTC offset")
    return parsed


def escalation_anchor(event: Input, clock_starts: str) -> datetime:
    """When an expectation opened by this escalation starts its clock.

    ``at_evidence``: the latest evidence time (the moment the rule's last condition was recorded);
    ``at_raised``: ``raised_at``. Either falls back to the other, then to the event's own time.
    """
    raised = event.data.get("raised_at")
    raised_at = parse_time(raised, "/data/raised_at") if raised is not None else event.time
    if clock_starts == "at_raised":
        return raised_at
    times = [parse_time(item["time"], "/data/evidence/time") for item in event.data.get("evidence") or ()]
    return max(times) if times else raised_at


def _text(event: Mapping[str, Any], name: str, where: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: non-empty string expected")
    return value


def _check_findings(findings: object) -> None:
    if findings is None:
        return
    if not isinstance(findings, list) or not all(isinstance(item, Mapping) for item in findings):
        raise InputError("/data/findings: must be an array of objects")


def _check_escalation(data: Mapping[str, Any], event_type: str) -> None:
    if not isinstance(data.get("escalation_id"), str) or not data["escalation_id"]:
        raise InputError("/data/escalation_id: non-empty string expected")
    rule = data.get("rule")
    if not isinstance(rule, Mapping) or not isinstance(rule.get("id"), str):
        raise InputError("/data/rule/id: string expected")
    if event_type != ESCALATION_RESOLVED and data.get("severity") not in SEVERITIES:
        raise InputError(f"/data/severity: one of {', '.join(SEVERITIES)} expected")
    if data.get("raised_at") is not None:
        parse_time(data["raised_at"], "/data/raised_at")
    evidence = data.get("evidence")
    if evidence is None:
        return
    if not isinstance(evidence, list):
        raise InputError("/data/evidence: must be an array")
    for index, item in enumerate(evidence):
        if not isinstance(item, Mapping):
            raise InputError(f"/data/evidence/{index}: must be an object")
        parse_time(item.get("time"), f"/data/evidence/{index}/time")
