"""One batch of clinical events through the triage core, with one state read and write per patient.

No Faust here: the agent hands over raw records and a way to read stored state, and gets back the
encoded states to store and the escalation events to publish. Order within a patient is kept.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from carepath import envelope, topics, tracing
from triage.core import EventError, Pathway, PatientState, evaluate, parse_event
from triage.core.engine import Escalation

SOURCE = "urn:carepath:triage"


@dataclass(frozen=True)
class Incoming:
    key: bytes
    value: bytes
    timestamp: float  # broker record time (seconds): when intake stored it


@dataclass(frozen=True)
class Outgoing:
    key: bytes
    value: bytes
    escalation: Escalation
    source_timestamp: float


@dataclass(frozen=True)
class Failure:
    incoming: Incoming
    reason: str  # short, no patient data: the metric label and the DLQ reason
    detail: str


@dataclass
class BatchResult:
    states: dict[bytes, bytes] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    types: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    evaluations: int = 0
    evaluation_seconds: float = 0.0


# A triage span's attributes: fixed words, and the event type once it is known to be one triage reads.
_traced = {"messaging.system": "kafka", "messaging.destination.name": topics.CLINICAL_EVENTS}


def run_batch(
    incoming: Sequence[Incoming],
    load_state: Callable[[bytes], bytes | None],
    now: datetime,
    pathway: Pathway,
) -> BatchResult:
    result = BatchResult()
    by_patient: dict[bytes, list[Incoming]] = {}
    for rec in incoming:
        by_patient.setdefault(rec.key, []).append(rec)
    for key, records in by_patient.items():
        stored = load_state(key)
        state = (
            PatientState.from_dict(envelope.decode(stored)) if stored else PatientState.empty(key.decode())
        )
        changed = False
        for rec in records:
            try:
                raw = envelope.decode(rec.value)
                event = parse_event(raw)
            except (EventError, ValueError, TypeError, KeyError) as exc:
                result.failures.append(Failure(rec, "undecodable", f"{type(exc).__name__}: {exc}"))
                continue
            result.types[event.type] += 1
            with tracing.span(
                "triage evaluate", tracing.parent_of(raw), kind=tracing.SpanKind.CONSUMER, attributes=_traced
            ) as span:
                span.set("cloudevents.event_type", event.type)  # one of the types triage reads
                started = time.perf_counter()
                try:
                    outcome = evaluate(state, event, now, pathway)
                except Exception as exc:  # a defect must not stop the partition: dead-letter and go on
                    result.failures.append(Failure(rec, "evaluation_failed", f"{type(exc).__name__}: {exc}"))
                    span.failed("evaluation_failed")
                    continue
                finally:
                    result.evaluation_seconds += time.perf_counter() - started
                    result.evaluations += 1
                if outcome.duplicate:
                    result.duplicates += 1
                    span.set("carepath.duplicate", True)
                    continue
                span.set("carepath.escalations", len(outcome.escalations))
            state = outcome.state
            changed = True
            for esc in outcome.escalations:
                ce = envelope.cloudevent(
                    id=esc.cloudevent_id,
                    type=esc.type,
                    source=SOURCE,
                    subject=event.patient_id,
                    time=now,
                    data=esc.data,
                    traceparent=span.traceparent,
                )
                result.outgoing.append(Outgoing(key, envelope.encode(ce), esc, rec.timestamp))
        if changed:
            result.states[key] = envelope.encode_for_storage(state.to_dict())
    return result
