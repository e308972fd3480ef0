"""The Faust shell: consume clinical events in batches, run them through the core, publish, store.

Order matters for "nothing lost": escalations are published and acknowledged *before* the patient's new
state is written. A crash in between replays the events against the old state, which raises the same
escalations again under the same deterministic ids (consumers de-duplicate by id); a crash after the
state write finds the events already processed. Offsets are committed by Faust only after both.
"""

from __future__ import annotations

import time
from typing import Any

from carepath import logs, topics
from carepath.clock import Clock
from carepath.deadletter import unprocessable
from carepath.stream_metrics import DECODE_ERRORS, EVENTS_CONSUMED, PROCESSING_SECONDS
from carepath.streaming import App, batch_agent, patient_table, publish, reader, store
from carepath.worker import WorkerShell
from triage import metrics
from triage.batch import Failure, Incoming, run_batch
from triage.core import Pathway
from triage.settings import TriageSettings

SERVICE = "triage"
STATE_TABLE = "triage-patient-state"
log = logs.get(__name__)


def register(app: App, shell: WorkerShell, settings: TriageSettings, pathway: Pathway, clock: Clock) -> None:
    source = app.topic(topics.CLINICAL_EVENTS, key_type=bytes, value_type=bytes)
    output_name = topics.ESCALATIONS_SHADOW if settings.shadow_mode else topics.ESCALATIONS
    table = patient_table(app, STATE_TABLE)

    async def handle(messages: list[Any]) -> None:
        started = time.perf_counter()
        incoming = [Incoming(m.key or b"", m.value, m.timestamp) for m in messages]
        result = run_batch(incoming, await reader(table, [i.key for i in incoming]), clock.now(), pathway)

        await publish(
            app,
            {
                output_name: [(o.key, o.value) for o in result.outgoing],
                topics.CLINICAL_EVENTS_DLQ: [
                    (f.incoming.key or None, _dead_letter(f, clock)) for f in result.failures
                ],
            },
        )
        for o in result.outgoing:
            metrics.ESCALATIONS.labels(o.escalation.rule_id, o.escalation.severity, o.escalation.change).inc()
            metrics.END_TO_END_SECONDS.observe(max(time.time() - o.source_timestamp, 0.0))
        for failure in result.failures:
            metrics.PROCESSING_FAILURES.labels(failure.reason).inc()
            DECODE_ERRORS.labels(SERVICE, topics.CLINICAL_EVENTS).inc()
            log.warning("event dead-lettered", reason=failure.reason)
        await store(table, result.states)

        for etype, n in result.types.items():
            EVENTS_CONSUMED.labels(SERVICE, etype).inc(n)
        if result.duplicates:
            metrics.DUPLICATES_SUPPRESSED.inc(result.duplicates)
        if result.evaluations:
            metrics.RULE_EVALUATION_SECONDS.observe(result.evaluation_seconds / result.evaluations)
        PROCESSING_SECONDS.labels(SERVICE).observe((time.perf_counter() - started) / len(messages))
        shell.processed_batch(messages)

    batch_agent(
        app,
        source,
        name="triage",
        service=SERVICE,
        batch_max=settings.batch_max,
        within=settings.batch_within_s,
        handle=handle,
    )


def _dead_letter(failure: Failure, clock: Clock) -> bytes:
    return unprocessable(
        service=SERVICE,
        reason=failure.reason,
        detail=failure.detail,
        raw=failure.incoming.value,
        at=clock.now(),
    )
