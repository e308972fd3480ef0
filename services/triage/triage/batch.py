"""One batch of clinical events through the triage core, with one state read and write per patient (a
patient whose events in the batch are all of types the core keeps nothing of, such as treatment changes,
has neither: those are counted and go no further).

No Faust here: the agent hands over raw records and a way to read stored state, and gets back the
encoded states to store and the escalation events to publish. Order within a patient is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter  # a name, not an attribute of the module looked up twice an event
from typing import Any, Final, NamedTuple

from orjson import dumps, loads  # names: compiled, ``orjson.loads`` is an attribute look-up a call

from carepath import envelope, topics, tracing
from triage.core import EventError, Pathway, PatientState, evaluate, parse_event
from triage.core.engine import Escalation, Outcome
from triage.core.events import ClinicalEvent
from triage.core.record import RECORDED_TYPES

SOURCE: Final = "urn:carepath:triage"


class Incoming(NamedTuple):  # one per record: a tuple is made in a third of a dataclass's time
    # run_batch reads the fields by position: compiled, a field by name is a generic attribute look-up
    key: bytes
    value: bytes
    timestamp: float  # broker record time (seconds): when intake stored it


@dataclass(frozen=True, init=False)
class Outgoing:
    key: bytes
    value: bytes
    escalation: Escalation
    source_timestamp: float

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, key: bytes, value: bytes, escalation: Escalation, source_timestamp: float) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "escalation", escalation)
        object.__setattr__(self, "source_timestamp", source_timestamp)


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
    types: dict[str, int] = field(default_factory=dict)  # events by type (a dict: Counter's += is Python)
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
        # not setdefault: compiled, it is a method call with a new list each time (2,600 instructions)
        records = by_patient.get(rec[0])
        if records is None:
            by_patient[rec[0]] = [rec]
        else:
            records.append(rec)
    types = result.types
    traced = tracing.enabled()
    # Every escalation of the batch has the same envelope but for its id, type, subject and data (and
    # trace context): written out once, with the time, and copied for each (the keys keep their order).
    head: dict[str, Any] | None = None
    for key, records in by_patient.items():
        # Read first: a patient's state is read (and written) only for events it keeps facts of.
        readable: list[tuple[Incoming, dict[str, Any], ClinicalEvent]] = []
        for rec in records:
            try:
                raw = loads(rec[1])
                event = parse_event(raw)
            except (EventError, ValueError, TypeError, KeyError) as exc:
                result.failures.append(Failure(rec, "undecodable", f"{type(exc).__name__}: {exc}"))
                continue
            kind = event.type
            types[kind] = types.get(kind, 0) + 1
            if kind in RECORDED_TYPES:
                readable.append((rec, raw, event))
        if not readable:
            continue
        stored = load_state(key)
        state = PatientState.decoded(loads(stored)) if stored else PatientState.empty(key.decode())
        changed = False
        for rec, raw, event in readable:
            if traced:
                outcome, traceparent = _evaluate_traced(state, event, raw, now, pathway, result, rec)
            else:
                # With tracing off nothing records a span: the event's own trace context is passed on to
                # what it raises (read only then).
                outcome, traceparent = _evaluate(state, event, now, pathway, result, rec), None
            if outcome is None:
                continue
            if outcome.duplicate:
                result.duplicates += 1
                continue
            if outcome.state is state:
                continue  # nothing of it kept (nothing raised either)
            state = outcome.state
            changed = True
            if outcome.escalations and not traced and "traceparent" in raw:
                traceparent = tracing.parent_of(raw)
            if head is None:
                head = envelope.cloudevent(id="", type="", source=SOURCE, subject="", time=now, data={})
            for esc in outcome.escalations:
                ce = dict(head)
                ce["id"] = esc.cloudevent_id
                ce["type"] = esc.type
                ce["subject"] = event.patient_id
                ce["data"] = esc.data
                if traceparent is not None:
                    ce["traceparent"] = traceparent
                result.outgoing.append(Outgoing(key, dumps(ce), esc, rec[2]))
        if changed:
            # as envelope.encode_for_storage (copied to its exact size), called here without a Python frame
            result.states[key] = bytes(memoryview(dumps(state.raw)))
    return result


def _evaluate(
    state: PatientState,
    event: ClinicalEvent,
    now: datetime,
    pathway: Pathway,
    result: BatchResult,
    rec: Incoming,
) -> Outcome | None:
    """The core's outcome, or None when it failed (recorded as a failure: dead-lettered, and the
    partition goes on)."""
    started = perf_counter()
    try:
        return evaluate(state, event, now, pathway)
    except Exception as exc:  # a defect must not stop the partition: dead-letter and go on
        result.failures.append(Failure(rec, "evaluation_failed", f"{type(exc).__name__}: {exc}"))
        return None
    finally:
        result.evaluation_seconds += perf_counter() - started
        result.evaluations += 1


def _evaluate_traced(
    state: PatientState,
    event: ClinicalEvent,
    raw: Mapping[str, Any],
    now: datetime,
    pathway: Pathway,
    result: BatchResult,
    rec: Incoming,
) -> tuple[Outcome | None, str | None]:
    """``_evaluate`` in a span, child of the event's trace context: the parent of what it raises."""
    with tracing.span(
        "triage evaluate", tracing.parent_of(raw), kind=tracing.SpanKind.CONSUMER, attributes=_traced
    ) as span:
        span.set("cloudevents.event_type", event.type)  # one of the types triage reads
        outcome = _evaluate(state, event, now, pathway, result, rec)
        if outcome is None:
            span.failed("evaluation_failed")
        elif outcome.duplicate:
            span.set("carepath.duplicate", True)
        else:
            span.set("carepath.escalations", len(outcome.escalations))
    return outcome, span.traceparent
