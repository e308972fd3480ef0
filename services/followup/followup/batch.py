"""Inputs and timer ticks through the followup core, with one state read and write per patient.

No Faust here: the agent and the timer hand over raw records (or keys that are due) and a way to read
stored state, and get back the states to store and the reminder events to publish.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from carepath import envelope, tracing
from followup.core import (
    FollowupPathway,
    Input,
    InputError,
    Outcome,
    PatientExpectations,
    Tick,
    advance,
    parse_input,
)
from followup.core.audit import AuditRecord, audit
from followup.core.engine import Reminder

SOURCE = "urn:carepath:followup"


class Incoming(NamedTuple):  # one per record: a tuple is made in a third of a dataclass's time
    key: bytes
    value: bytes


@dataclass(frozen=True, init=False)
class Outgoing:
    key: bytes
    value: bytes
    reminder: Reminder

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, key: bytes, value: bytes, reminder: Reminder) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "reminder", reminder)


@dataclass(frozen=True, init=False)
class Audited:
    key: bytes
    value: bytes
    record: AuditRecord

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, key: bytes, value: bytes, record: AuditRecord) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "record", record)


@dataclass(frozen=True)
class Failure:
    incoming: Incoming
    reason: str
    detail: str


@dataclass(init=False)
class Stored:
    value: bytes
    expectations: PatientExpectations

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, value: bytes, expectations: PatientExpectations) -> None:
        self.value = value
        self.expectations = expectations


@dataclass
class FollowupResult:
    states: dict[bytes, Stored] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    types: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    # Written and made durable before ``outgoing`` is published: each patient's stored state with the
    # reminders about to go out listed as ``sending`` (see followup.core.timers.fire_due).
    intents: dict[bytes, Stored] = field(default_factory=dict)
    republished: int = 0  # reminders published again after a restart found them sent but unconfirmed
    # The expectations' audit trail (opened, satisfied, cancelled, withdrawn), published with the reminders.
    audited: list[Audited] = field(default_factory=list)
    # From a timer pass: patients looked at and left as stored (not written), and keys with no stored state.
    unchanged: dict[bytes, PatientExpectations] = field(default_factory=dict)
    missing: list[bytes] = field(default_factory=list)


Loader = Callable[[bytes], bytes | None]


def _load(key: bytes, load_state: Loader) -> PatientExpectations:
    stored = load_state(key)
    if stored:
        return PatientExpectations.from_dict(envelope.decode(stored))
    return PatientExpectations.empty(key.decode())


def _emit(result: FollowupResult, key: bytes, patient_id: str, reminders: Iterable[Reminder]) -> None:
    """The reminders as events. Each is traced as a span of the trace of the event that opened its
    expectation (untraced, it carries that event's trace context as it is: the same bytes however often
    it is published)."""
    for r in reminders:
        with tracing.span(
            "followup remind",
            r.trace,
            kind=tracing.SpanKind.PRODUCER,
            attributes={
                "carepath.expectation": r.expectation_rule,
                "carepath.reminder.kind": r.kind,
                "carepath.reminder.level": r.level,
            },
        ) as span:
            ce = envelope.cloudevent(
                id=r.cloudevent_id,
                type=r.type,
                source=SOURCE,
                subject=patient_id,
                time=r.at,
                data=r.data,
                traceparent=span.traceparent,
            )
        result.outgoing.append(Outgoing(key, envelope.encode(ce), r))


def _audit(result: FollowupResult, key: bytes, patient_id: str, records: Iterable[AuditRecord]) -> None:
    for a in records:
        ce = envelope.cloudevent(
            id=a.cloudevent_id, type=a.type, source=SOURCE, subject=patient_id, time=a.at, data=a.data
        )
        result.audited.append(Audited(key, envelope.encode(ce), a))


def _store(result: FollowupResult, key: bytes, exps: PatientExpectations) -> None:
    result.states[key] = Stored(envelope.encode_for_storage(exps.to_dict()), exps)


# A followup span's attributes: fixed words, and the event type once it is known to be one followup reads.
_traced = {"messaging.system": "kafka"}


def run_inputs(
    incoming: Sequence[Incoming], load_state: Loader, now: datetime, pathway: FollowupPathway
) -> FollowupResult:
    result = FollowupResult()
    by_patient: dict[bytes, list[Incoming]] = {}
    for rec in incoming:
        # not setdefault: compiled, it is a method call with a new list each time
        records = by_patient.get(rec.key)
        if records is None:
            by_patient[rec.key] = [rec]
        else:
            records.append(rec)
    traced = tracing.enabled()
    for key, records in by_patient.items():
        exps = _load(key, load_state)
        changed = False
        for rec in records:
            try:
                raw = envelope.decode(rec.value)
                item = parse_input(raw)
            except (InputError, ValueError, TypeError, KeyError) as exc:
                result.failures.append(Failure(rec, "undecodable", f"{type(exc).__name__}: {exc}"))
                continue
            result.types[item.type] += 1
            if traced:
                outcome = _advance_traced(exps, item, raw, now, pathway, result, rec)
            else:
                # With tracing off nothing records a span: what the event opens keeps its own trace
                # context (well formed, or none).
                trace = tracing.parent_of(raw)
                if item.trace != trace:
                    item = dataclasses.replace(item, trace=trace)
                outcome = _advance(exps, item, now, pathway, result, rec)
            if outcome is None:
                continue
            if outcome.duplicate:
                result.duplicates += 1
                continue
            _audit(result, key, item.patient_id, audit(exps, outcome.expectations, now, pathway, item.id))
            exps = outcome.expectations
            changed = True
            _emit(result, key, item.patient_id, outcome.reminders)
        if changed:
            _store(result, key, exps)
    return result


def _advance(
    exps: PatientExpectations,
    item: Input,
    now: datetime,
    pathway: FollowupPathway,
    result: FollowupResult,
    rec: Incoming,
) -> Outcome | None:
    """The core's outcome, or None when it failed (recorded as a failure: dead-lettered, and the
    partition goes on)."""
    try:
        return advance(exps, item, now, pathway)
    except Exception as exc:  # a defect must not stop the partition: dead-letter and go on
        result.failures.append(Failure(rec, "processing_failed", f"{type(exc).__name__}: {exc}"))
        return None


def _advance_traced(
    exps: PatientExpectations,
    item: Input,
    raw: Mapping[str, Any],
    now: datetime,
    pathway: FollowupPathway,
    result: FollowupResult,
    rec: Incoming,
) -> Outcome | None:
    """``_advance`` in a span, child of the event's trace context: what the event opens is traced as it."""
    with tracing.span(
        "followup apply", tracing.parent_of(raw), kind=tracing.SpanKind.CONSUMER, attributes=_traced
    ) as span:
        span.set("cloudevents.event_type", item.type)  # one of the types followup reads
        if item.trace != span.traceparent:
            item = dataclasses.replace(item, trace=span.traceparent)
        outcome = _advance(exps, item, now, pathway, result, rec)
        if outcome is None:
            span.failed("processing_failed")
        elif outcome.duplicate:
            span.set("carepath.duplicate", True)
    return outcome


def run_tick(
    keys: Iterable[bytes], load_state: Loader, now: datetime, pathway: FollowupPathway
) -> FollowupResult:
    """Fire what is due for ``keys``. Each patient with reminders to publish also gets an intent: the
    state as loaded, with those reminders listed as ``sending``, to be made durable before publishing,
    so that a crash after the broker has them but before their "fired" state is written is known on
    restart, and they are published again identical (same id, same payload) and counted.

    Only a state the table holds is ever written back. A key with no stored state is left alone and
    listed in ``missing``: the timer reads the state it fires from, and writing the empty state of a
    patient it could not read would replace that patient's expectations in the changelog, which the
    partition's next owner reads back. A patient the tick leaves exactly as stored is not written again
    (``unchanged``, so that its next deadline is tracked)."""
    result = FollowupResult()
    for key in keys:
        stored = load_state(key)
        if not stored:
            result.missing.append(key)
            continue
        exps = PatientExpectations.from_dict(envelope.decode(stored))
        outcome = advance(exps, Tick(), now, pathway)
        records = audit(exps, outcome.expectations, now, pathway)
        value = envelope.encode_for_storage(outcome.expectations.to_dict())
        if not outcome.reminders and not records and value == stored:
            result.unchanged[key] = exps
            continue
        if outcome.reminders:
            intent = exps.copy()
            intent.sending = {r.cloudevent_id: r.at for r in outcome.reminders}
            result.intents[key] = Stored(envelope.encode_for_storage(intent.to_dict()), intent)
            result.republished += sum(1 for r in outcome.reminders if r.cloudevent_id in exps.sending)
        _emit(result, key, key.decode(), outcome.reminders)
        _audit(result, key, key.decode(), records)
        result.states[key] = Stored(value, outcome.expectations)
    return result
