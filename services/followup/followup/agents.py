"""The Faust shell: inputs in batches, deadlines by a short periodic timer, reminders out.

Deadlines are state in a changelog-backed table, never sleeps: a restarted or rebalanced worker reads
them back and the timer fires whatever is due, reporting how late. Reminders are published and
acknowledged *before* the state that records them as fired is written, so a crash can repeat a reminder
under the same deterministic id (consumers de-duplicate) but never lose one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from carepath import envelope, logs, topics
from carepath.clock import Clock
from carepath.deadletter import unprocessable
from carepath.stream_metrics import DECODE_ERRORS, EVENTS_CONSUMED, PROCESSING_SECONDS
from carepath.streaming import App, batch_agent, guard
from carepath.worker import WorkerShell
from followup import metrics
from followup.batch import Failure, FollowupResult, Incoming, run_inputs, run_tick
from followup.core import FollowupPathway, PatientExpectations
from followup.due import DueIndex
from followup.settings import FollowupSettings
from followup.summary import Summary, summarise

SERVICE = "followup"
STATE_TABLE = "followup-expectations"
INPUT_TOPICS = (topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.ACKNOWLEDGEMENTS)
log = logs.get(__name__)


class FollowupShell:
    def __init__(
        self, app: App, shell: WorkerShell, settings: FollowupSettings, pathway: FollowupPathway, clock: Clock
    ) -> None:
        self.app, self.shell, self.settings, self.pathway, self.clock = app, shell, settings, pathway, clock
        self.source = app.topic(*INPUT_TOPICS, key_type=bytes, value_type=bytes)
        self.reminders = app.topic(topics.REMINDERS, key_type=bytes, value_type=bytes)
        self.dlq = app.topic(topics.CLINICAL_EVENTS_DLQ, key_type=bytes, value_type=bytes)
        # use_partitioner: the timer writes outside any stream event; the key (patient id) picks the
        # changelog partition, the same one the inputs for that patient arrive on.
        self.table = app.Table(
            STATE_TABLE, default=None, key_type=bytes, value_type=bytes, use_partitioner=True
        )
        self.index = DueIndex()
        self.summaries: dict[bytes, Summary] = {}
        self.lock = asyncio.Lock()  # the agent and the timer never interleave writes for one patient
        self._indexed_for: frozenset[Any] = frozenset()
        self._partitions = topics.partitions()

    async def commit(self, result: FollowupResult) -> None:
        sent = [(await self.reminders.send(key=o.key, value=o.value), o) for o in result.outgoing]
        for fut, o in sent:
            await fut
            r = o.reminder
            metrics.REMINDERS.labels(r.expectation_rule, r.kind, str(r.level)).inc()
            metrics.REMINDER_LATENESS.observe(r.lateness_seconds)
        for failure in result.failures:
            await self.dlq.send(key=failure.incoming.key or None, value=_dead_letter(failure, self.clock))
            metrics.PROCESSING_FAILURES.labels(failure.reason).inc()
            DECODE_ERRORS.labels(SERVICE, "inputs").inc()
            log.warning("input dead-lettered", reason=failure.reason)
        for key, stored in result.states.items():
            self.table[key] = stored.value
            self._track(key, stored.expectations)
        if result.outgoing:
            # Make "fired" durable now: the window in which a crash repeats a reminder (same id) stays short.
            await self.app.producer.flush()

    def _track(self, key: bytes, exps: PatientExpectations) -> None:
        nxt = exps.next_due()
        self.index.set(key, nxt.timestamp() if nxt else None)
        summary = summarise(exps)
        if summary.empty:
            self.summaries.pop(key, None)
        else:
            self.summaries[key] = summary

    def _reindex(self) -> None:
        """Rebuild the due index from the table for the partitions this worker now owns."""
        self.index.clear()
        self.summaries.clear()
        for key, value in list(self.table.items()):
            if value and self.shell.owns(key, self._partitions):
                self._track(key, PatientExpectations.from_dict(envelope.decode(value)))
        log.info("due index rebuilt", patients=len(self.index))

    async def on_batch(self, events: list[Any]) -> None:
        started = time.perf_counter()
        incoming = [Incoming(e.key or b"", e.value) for e in events]
        async with self.lock:
            result = run_inputs(incoming, self.table.get, self.clock.now(), self.pathway)
            await self.commit(result)
        for etype, n in result.types.items():
            EVENTS_CONSUMED.labels(SERVICE, etype).inc(n)
        PROCESSING_SECONDS.labels(SERVICE).observe((time.perf_counter() - started) / len(events))
        for e in events:
            self.shell.processed(e.message.tp, e.message.offset)

    async def on_tick(self) -> None:
        ready, _ = self.shell.ready()
        if not ready:
            return
        async with self.lock:
            actives = frozenset(self.app.assignor.assigned_actives())
            if actives != self._indexed_for:
                self._reindex()
                self._indexed_for = actives
            now = self.clock.now()
            due = [k for k in self.index.pop_due(now.timestamp()) if self.shell.owns(k, self._partitions)]
            if due:
                await self.commit(run_tick(due, self.table.get, now, self.pathway))
            self._export_gauges(now.timestamp())

    # --- reads for the worklist API ------------------------------------------------------------------
    @property
    def own_url(self) -> str:
        return str(self.app.conf.canonical_url).rstrip("/")

    def patient(self, patient_id: str) -> PatientExpectations | None:
        value = self.table.get(patient_id.encode())
        return PatientExpectations.from_dict(envelope.decode(value)) if value else None

    def local_patients(self) -> list[PatientExpectations]:
        """Patients with anything open, on the partitions this worker owns."""
        out = []
        for key in list(self.summaries):
            value = self.table.get(key)
            if value and self.shell.owns(key, self._partitions):
                out.append(PatientExpectations.from_dict(envelope.decode(value)))
        return out

    def worker_urls(self) -> list[str]:
        """Every worker of the group that holds part of the table, this one included."""
        hosts = {str(url).rstrip("/") for url in self.app.router.tables_metadata()}
        return sorted(hosts | {self.own_url})

    def owner_url(self, patient_id: str) -> str | None:
        try:
            return str(self.app.router.key_store(STATE_TABLE, patient_id.encode())).rstrip("/")
        except Exception:  # no assignment yet: answer from here
            return None

    def _export_gauges(self, now: float) -> None:
        open_by_kind: dict[str, int] = {}
        overdue = 0
        oldest: float | None = None
        for s in self.summaries.values():
            for kind, n in s.open_by_expectation.items():
                open_by_kind[kind] = open_by_kind.get(kind, 0) + n
            overdue += sum(1 for d in s.deadlines if d <= now)
            if s.oldest_unacked_emergency is not None and (
                oldest is None or s.oldest_unacked_emergency < oldest
            ):
                oldest = s.oldest_unacked_emergency
        for kind in (rule.id for rule in self.pathway.expectations):
            metrics.EXPECTATIONS_OPEN.labels(kind).set(open_by_kind.get(kind, 0))
        metrics.EXPECTATIONS_OVERDUE.set(overdue)
        metrics.TIMER_BACKLOG.set(self.index.backlog(now))
        metrics.OLDEST_UNACKED_EMERGENCY.set(max(now - oldest, 0.0) if oldest is not None else 0.0)


def register(
    app: App, shell: WorkerShell, settings: FollowupSettings, pathway: FollowupPathway, clock: Clock
) -> FollowupShell:
    fs = FollowupShell(app, shell, settings, pathway, clock)

    batch_agent(
        app,
        fs.source,
        name="followup",
        service=SERVICE,
        batch_max=settings.batch_max,
        within=settings.batch_within_s,
        handle=fs.on_batch,
    )
    app.timer(settings.tick_interval_s, name="followup-deadlines")(guard(SERVICE, fs.on_tick))
    return fs


def _dead_letter(failure: Failure, clock: Clock) -> bytes:
    return unprocessable(
        service=SERVICE,
        reason=failure.reason,
        detail=failure.detail,
        raw=failure.incoming.value,
        at=clock.now(),
    )
