"""Admission of one native JSON event: contract validation plus the checks a schema cannot make.

Pure: no I/O, the clock is a parameter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from carepath import contracts, envelope, topics

ACKNOWLEDGEMENT_TYPE = "carepath.escalation.acknowledged.v1"


@dataclass(frozen=True)
class Admitted:
    event: dict[str, Any]
    topic: str
    key: bytes
    value: bytes
    digest: bytes

    @property
    def id(self) -> str:
        return str(self.event["id"])

    @property
    def source(self) -> str:
        return str(self.event["source"])

    @property
    def type(self) -> str:
        return str(self.event["type"])


@dataclass(frozen=True)
class Rejected:
    errors: list[contracts.ContractError]
    reason: str  # metric label: schema_invalid | future_time
    event_id: str | None

    def summary(self) -> str:
        return self.errors[0].describe() if self.errors else "invalid event"


def topic_for(event_type: str) -> str:
    return topics.ACKNOWLEDGEMENTS if event_type == ACKNOWLEDGEMENT_TYPE else topics.CLINICAL_EVENTS


def admit(
    item: Any, now: datetime, future_tolerance: timedelta, traceparent: str | None = None
) -> Admitted | Rejected:
    """Check one event and, when it passes, give it in the form every consumer reads.

    Numbers are made canonical first (``envelope.canonical_numbers``: ``8.0`` is published as ``8``), so
    what the contract accepts as an integer reaches triage and followup as one. ``traceparent`` (intake's
    span) replaces the sender's trace context. The digest that recognises a resent event leaves the
    trace context out: a retry traced afresh is the same event.
    """
    item = envelope.canonical_numbers(item)
    event_id = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
    errors = contracts.validate_event(item, allowed=contracts.INPUT_TYPES)
    if errors:
        return Rejected(errors, "schema_invalid", event_id)
    assert isinstance(item, dict)
    when = envelope.parse_time(item["time"])
    if when > now + future_tolerance:
        err = contracts.ContractError(
            "/time", f"{item['time']} is in the future (more than {future_tolerance} after the intake clock)"
        )
        return Rejected([err], "future_time", event_id)
    untraced = {k: v for k, v in item.items() if k not in TRACE_ATTRIBUTES} if _traced(item) else item
    if traceparent is not None:
        item = {**untraced, "traceparent": traceparent}
    value = envelope.encode(item)
    plain = value if untraced is item else envelope.encode(untraced)
    return Admitted(
        event=item,
        topic=topic_for(item["type"]),
        key=envelope.patient_key(item),
        value=value,
        digest=hashlib.blake2b(plain, digest_size=16).digest(),
    )


TRACE_ATTRIBUTES = ("traceparent", "tracestate")


def _traced(item: dict[str, Any]) -> bool:
    return "traceparent" in item or "tracestate" in item
