"""The Faust shell: inputs in batches, deadlines by a timer, reminders out.

Deadlines are state in a changelog-backed table, never sleeps: a restarted or rebalanced worker reads
them back and the timer fires whatever is due, reporting how late. The timer looks at least every
``CAREPATH_FOLLOWUP_TICK_S``, and sooner when the due index says a deadline falls before that (an input
that sets an earlier one wakes it), but never within :data:`MIN_GAP_S` of its last pass, so deadlines
falling close together go out in one pass.

The timer fires and publishes only for partitions in the *fence*: actively owned, with the table
recovered for the current assignment (:meth:`carepath.worker.WorkerShell.recovered_partitions`), and
with the input backlog they had at that moment processed. Faust runs timers whatever the assignment, so
without it a worker fires from a table that is still being read back, or keeps firing for partitions
that are being handed to another worker. And a worker that takes over a partition after a crash must
read what was already on the inputs first: an acknowledgement or a resolution published before a
deadline, but not yet read when the previous owner died, answers that deadline; firing it first would
send a reminder that a running pipeline never sends. A rebalance
closes the fence at once; before it can complete, the batch or timer pass in flight finishes writing
and the producer is flushed, so the next owner's recovery reads everything this worker published for.
A worker that is stopping gets no revocation signal from Faust, which stops the consumer and lets go of
the tables first: the fence closes for good in a before-stop hook instead (:meth:`FollowupShell.on_stopping`).

Reminders are published and acknowledged *before* the state that records them as fired is written, so
a crash can repeat a reminder but never lose one. The reminders about to go out are first recorded in
the state as ``sending`` (and flushed); after a crash inside the window, the restarted worker publishes
them again identical (same id, same payload, consumers de-duplicate) and counts them
(``carepath_followup_reminders_republished_total``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from faust.types import TP
from mode.types.signals import BaseSignalT

from carepath import envelope, logs, topics
from carepath.clock import Clock, real_delay
from carepath.deadletter import unprocessable
from carepath.stream_metrics import DECODE_ERRORS, EVENTS_CONSUMED, PROCESSING_SECONDS
from carepath.streaming import App, batch_agent, guard, patient_table, publish, reader, store
from carepath.worker import WorkerShell
from followup import metrics
from followup.batch import Failure, FollowupResult, Incoming, run_inputs, run_tick
from followup.core import FollowupPathway, PatientExpectations
from followup.due import DueIndex
from followup.settings import FollowupSettings
from followup.summary import Summary, summarise

SERVICE = "followup"
TICK_CHUNK = 200  # patients fired per commit: bounds what a crash inside one commit can repeat
INDEX_CHUNK = 2_000  # patients read into the due index between two turns of the event loop
AGGREGATES_EVERY_S = 5.0  # real seconds between two passes over every patient for the aggregate gauges
MIN_GAP_S = 0.05  # real seconds from the end of one timer pass to the start of the next, at least
CATCH_UP_MAX_S = 60.0  # a recovered partition fires after this long even if its backlog is not read yet
STATE_TABLE = "followup-expectations"
INPUT_TOPICS = (topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.ACKNOWLEDGEMENTS)
log = logs.get(__name__)


class FollowupShell:
    def __init__(
        self, app: App, shell: WorkerShell, settings: FollowupSettings, pathway: FollowupPathway, clock: Clock
    ) -> None:
        self.app, self.shell, self.settings, self.pathway, self.clock = app, shell, settings, pathway, clock
        self.source = app.topic(*INPUT_TOPICS, key_type=bytes, value_type=bytes)
        self.table = patient_table(app, STATE_TABLE)  # the timer writes outside any input record too
        self.index = DueIndex()
        self.summaries: dict[bytes, Summary] = {}
        self.lock = asyncio.Lock()  # the agent and the timer never interleave writes for one patient
        self._fence: frozenset[int] = (
            frozenset()
        )  # partitions owned, recovered, caught up; the index covers these
        self._partitions = topics.partitions()
        # Catching up after an assignment: per recovered partition, the inputs' high-watermarks when it was
        # recovered (None until every one is known) and since when it waits; the next offset to read per
        # input partition, from what this worker processed.
        self._backlog: dict[int, dict[TP, int] | None] = {}
        self._waiting_since: dict[int, float] = {}
        self._caught_up: set[int] = set()
        self._read_to: dict[TP, int] = {}
        self._aggregated_at = float("-inf")  # when the aggregate gauges were last computed (monotonic)
        # The timer sleeps until the next deadline it knows of (simulated epoch seconds) or the tick; a
        # deadline set before that wakes it.
        self._wake = asyncio.Event()
        self._wake_before = float("inf")
        self._stopping = False  # set once the worker begins to stop: no timer pass starts after it

    async def commit(self, result: FollowupResult) -> None:
        if result.intents:
            # Durable before anything is published: a crash from here on is known after the restart.
            await store(self.table, {key: intent.value for key, intent in result.intents.items()})
            if result.republished:
                metrics.REMINDERS_REPUBLISHED.inc(result.republished)
                log.warning("reminders published again after a restart", count=result.republished)
        # The reminders, the audit trail and any dead letters handed to the producer together, then their
        # acknowledgements.
        await publish(
            self.app,
            {
                topics.REMINDERS: [(o.key, o.value) for o in result.outgoing],
                topics.AUDIT: [(a.key, a.value) for a in result.audited],
                topics.CLINICAL_EVENTS_DLQ: [
                    (f.incoming.key or None, _dead_letter(f, self.clock)) for f in result.failures
                ],
            },
        )
        for o in result.outgoing:
            r = o.reminder
            metrics.REMINDERS.labels(r.expectation_rule, r.kind, str(r.level)).inc()
            metrics.REMINDER_LATENESS.observe(r.lateness_seconds)
        for a in result.audited:
            metrics.observe_audit(a.record)
        for failure in result.failures:
            metrics.PROCESSING_FAILURES.labels(failure.reason).inc()
            DECODE_ERRORS.labels(SERVICE, "inputs").inc()
            log.warning("input dead-lettered", reason=failure.reason)
        # Acknowledged before returning: "fired" is durable at once, so the window in which a crash repeats a
        # reminder (same id) stays short.
        await store(self.table, {key: stored.value for key, stored in result.states.items()})
        for key, stored in result.states.items():
            self._track(key, stored.expectations)
        for key, exps in result.unchanged.items():
            self._track(key, exps)
        if result.missing:
            metrics.TIMER_STATES_MISSING.inc(len(result.missing))
            log.warning(
                "patients due in the index have no stored state: left alone", count=len(result.missing)
            )

    def _track(self, key: bytes, exps: PatientExpectations) -> None:
        nxt = exps.next_due()
        due = nxt.timestamp() if nxt else None
        self.index.set(key, due)
        if due is not None and due < self._wake_before:
            self._wake.set()
        summary = summarise(exps)
        if summary.empty:
            self.summaries.pop(key, None)
        else:
            self.summaries[key] = summary

    def _partition(self, key: bytes) -> int:
        return self.shell.partition_of(key, self._partitions)

    async def _index(self, fence: frozenset[int]) -> None:
        """Bring the due index and the worklist summaries to ``fence``: partitions that left it are
        forgotten; only the patients of partitions that joined it are read from the table (a worker's
        partitions catch up one after another after a start, and each is read once), a chunk at a time
        with the event loop let go in between, so the worker's API, readiness probe and metrics answer
        while a large table is read. The lock stays held: no batch or timer pass writes meanwhile."""
        added = fence - self._fence
        self._forget(set(self._fence - fence))
        self._fence = fence
        if not added:
            return
        keys = [key for key in list(self.table.keys()) if self._partition(key) in added]
        for start in range(0, len(keys), INDEX_CHUNK):
            if self._fence != fence:  # a rebalance began: everything is read again once it is over
                self._read_again()
                return
            for key in keys[start : start + INDEX_CHUNK]:
                value = self.table.get(key)
                if value:
                    self._track(key, PatientExpectations.from_dict(envelope.decode(value)))
            await asyncio.sleep(0)
        log.info("due index rebuilt", patients=len(self.index), partitions=len(fence), read=len(keys))

    def _read_again(self) -> None:
        """Drop the index and the summaries: the next timer pass reads every partition of its fence from
        the table (after a pass cut short, whatever it took from the index and did not fire is there)."""
        self._fence = frozenset()
        self.index.clear()
        self.summaries.clear()

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        """Faust's revocation signal: runs while the rebalance waits, before any partition moves.

        The fence closes at once (no timer pass starts for a revoked partition); then the batch or timer
        pass in flight, if any, finishes: its reminders acknowledged, its state written and flushed, so the
        next owner's recovery reads it. Revoked partitions leave the index and the worklist summaries."""
        gone = {tp.partition for tp in revoked if tp.topic in self.shell.topics}
        self._fence = self._fence - gone

        def close() -> None:
            self._fence = self._fence - gone  # a pass in flight may have set it again
            self._forget(gone)

        await self._finish_in_flight(close, "rebalance going ahead with a commit still in flight")

    async def on_stopping(self) -> None:
        """The worker is stopping (:meth:`carepath.streaming.App.before_stop`). No revocation signal comes,
        so the fence closes here, for good: no timer pass starts again. The batch or pass in flight, if any,
        finishes, and the producer is flushed, before Faust stops the consumer and the tables and the
        partitions go to another worker."""
        self._stopping = True
        self._read_again()
        self._wake.set()
        await self._finish_in_flight(self._read_again, "stopping with a commit still in flight")

    async def _finish_in_flight(self, then: Callable[[], None], going_ahead: str) -> None:
        """Let the batch or timer pass in flight finish (waiting at most half the rebalance timeout), run
        ``then``, and flush the producer: everything this worker wrote is acknowledged before its partitions'
        next owner reads the changelog. Past the wait, ``then`` runs anyway and ``going_ahead`` is logged."""
        wait = float(self.app.conf.broker_rebalance_timeout) / 2
        try:
            await asyncio.wait_for(self.lock.acquire(), timeout=wait)
        except TimeoutError:
            metrics.FENCE_WAITS_EXCEEDED.inc()
            log.warning(going_ahead, waited_s=wait)
            then()
            return
        try:
            then()
            await self.app.producer.flush()
        finally:
            self.lock.release()

    def _forget(self, partitions: set[int]) -> None:
        if not partitions:
            return
        self.index.retain(lambda k: self._partition(k) not in partitions)
        for key in [k for k in self.summaries if self._partition(k) in partitions]:
            del self.summaries[key]

    async def on_batch(self, messages: list[Any]) -> None:
        started = time.perf_counter()
        incoming = [Incoming(m.key or b"", m.value) for m in messages]
        async with self.lock:
            result = run_inputs(
                incoming, await reader(self.table, [i.key for i in incoming]), self.clock.now(), self.pathway
            )
            await self.commit(result)
        for etype, n in result.types.items():
            EVENTS_CONSUMED.labels(SERVICE, etype).inc(n)
        PROCESSING_SECONDS.labels(SERVICE).observe((time.perf_counter() - started) / len(messages))
        for tp, offset in self.shell.processed_batch(messages).items():
            if offset + 1 > self._read_to.get(tp, 0):
                self._read_to[tp] = offset + 1

    def caught_up(self, recovered: frozenset[int]) -> frozenset[int]:
        """The recovered partitions whose inputs have been read up to where they ended when the partition
        was recovered (or for longer than :data:`CATCH_UP_MAX_S`)."""
        for p in [p for p in self._backlog if p not in recovered]:  # revoked, or a rebalance is under way
            del self._backlog[p]
            self._waiting_since.pop(p, None)
            self._caught_up.discard(p)
        consumer: Any = self.app.consumer
        committed: Any = getattr(consumer, "_committed_offset", {})
        now = time.monotonic()
        for p in recovered:
            if p in self._caught_up:
                continue
            since = self._waiting_since.setdefault(p, now)
            marks = self._backlog.get(p)
            if marks is None:
                tps = [TP(t, p) for t in self.shell.topics]
                ends = {tp: consumer.highwater(tp) for tp in tps}
                if all(end is not None for end in ends.values()):
                    marks = self._backlog[p] = {tp: int(end) for tp, end in ends.items()}
                else:
                    self._backlog[p] = None
            if marks is not None and all(
                max(self._read_to.get(tp, 0), committed.get(tp) or 0) >= end for tp, end in marks.items()
            ):
                self._caught_up.add(p)
            elif now - since > CATCH_UP_MAX_S:
                metrics.CATCH_UP_WAITS_EXCEEDED.inc()
                log.warning("deadlines firing before the input backlog is read", waited_s=CATCH_UP_MAX_S)
                self._caught_up.add(p)
        return frozenset(p for p in recovered if p in self._caught_up)

    async def run_deadlines(self) -> None:
        """The timer: a pass (:meth:`on_tick`) whenever a deadline may be due, until the worker stops."""
        tick = self.settings.tick_interval_s
        last_pass = float("-inf")
        while not (self._stopping or self.app.should_stop):
            delay = tick
            nxt = self.index.next_due()
            if nxt is not None:
                until = real_delay(self.clock, nxt - self.clock.now().timestamp())
                if until is not None:
                    delay = min(delay, until)
            delay = max(delay, last_pass + MIN_GAP_S - time.monotonic())
            if delay > 0:
                self._wake.clear()
                self._wake_before = nxt if nxt is not None else float("inf")
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                    continue  # an earlier deadline was set: work out the wait again
                except TimeoutError:
                    pass
                finally:
                    self._wake_before = float("inf")
                if self._stopping or self.app.should_stop:
                    break
            await self.on_tick()
            last_pass = time.monotonic()

    async def on_tick(self) -> None:
        async with self.lock:
            if self._stopping:
                return
            fence = self.caught_up(self.shell.recovered_partitions())
            if fence != self._fence:
                await self._index(fence)  # from a table now recovered for exactly these partitions
            if not fence or self._fence != fence:
                return
            now = self.clock.now()
            due = [k for k in self.index.pop_due(now.timestamp()) if self._partition(k) in fence]
            for start in range(0, len(due), TICK_CHUNK):
                if self._fence != fence:  # a rebalance started: the rest is read again after it
                    self._read_again()
                    break
                chunk = due[start : start + TICK_CHUNK]
                await self.commit(run_tick(chunk, await reader(self.table, chunk), now, self.pathway))
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
        """The timer's gauges. The next deadline and the scan count every pass; the aggregates over every
        patient with something open (open and overdue expectations, the oldest unacknowledged emergency,
        the backlog) at most every :data:`AGGREGATES_EVERY_S`: each is a pass over all of them (about
        1.5 µs a patient), which at four passes a second would cost a core at a few hundred thousand
        patients, and Prometheus reads them every 15 s or more."""
        metrics.NEXT_DUE.set(self.index.next_due() or 0.0)
        metrics.TIMER_SCANS.inc()
        at = time.monotonic()
        if at - self._aggregated_at < AGGREGATES_EVERY_S:
            return
        self._aggregated_at = at
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
    app.task(guard(SERVICE, fs.run_deadlines))
    revoke = guard(SERVICE, fs.on_partitions_revoked)

    async def on_revoked(_sender: Any, /, *args: Any, signal: BaseSignalT[Any], **_: Any) -> None:
        await revoke(set(args[0]))

    app.on_partitions_revoked.connect(on_revoked)
    app.before_stop(guard(SERVICE, fs.on_stopping))
    return fs


def _dead_letter(failure: Failure, clock: Clock) -> bytes:
    return unprocessable(
        service=SERVICE,
        reason=failure.reason,
        detail=failure.detail,
        raw=failure.incoming.value,
        at=clock.now(),
    )
