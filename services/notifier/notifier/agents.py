"""The Faust shell: escalations and reminders in, deliveries planned in the table, couriers do the rest.

For each notification the agent routes it to endpoints, records it as pending for each in the
changelog-backed table (keyed by patient id, co-partitioned with the input topics) and hands it to
each endpoint's courier. Attempts and outcomes are written back to the table, so after a restart or a
rebalance the owner of the partition finds what is still pending and delivers it, and never delivers
again what was delivered. A redelivered input record finds its earlier state and is not sent twice.

The one repeat a crash can cause: a request the endpoint took in the moment before the worker died,
its outcome not yet written. Each attempt is written as in flight (and flushed) before it is sent, so
the next owner knows such a redelivery is in doubt, sends it with the same idempotency key, and counts
it (``carepath_notifier_redeliveries_in_doubt_total``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from carepath import envelope, logs, topics, tracing
from carepath.clock import Clock
from carepath.deadletter import unprocessable
from carepath.stream_metrics import DECODE_ERRORS, EVENTS_CONSUMED, PROCESSING_SECONDS
from carepath.streaming import App, batch_agent, fail_fast, guard
from carepath.worker import WorkerShell
from notifier import metrics
from notifier.config import Endpoint
from notifier.courier import Courier, Job
from notifier.dead_letters import TOPIC as NOTIFICATIONS_DLQ
from notifier.dead_letters import dead_letter
from notifier.payloads import payload
from notifier.routing import Notification, NotRoutable, routes
from notifier.settings import NotifierSettings
from notifier.state import PatientDeliveries

SERVICE = "notifier"
STATE_TABLE = "notifier-deliveries"
INPUT_TOPICS = (topics.ESCALATIONS, topics.REMINDERS)
log = logs.get(__name__)


class NotifierShell:
    def __init__(
        self,
        app: App,
        shell: WorkerShell,
        settings: NotifierSettings,
        endpoints: tuple[Endpoint, ...],
        clock: Clock,
    ) -> None:
        self.app, self.shell, self.settings, self.clock = app, shell, settings, clock
        self.endpoints = {e.name: e for e in endpoints}
        self.source = app.topic(*INPUT_TOPICS, key_type=bytes, value_type=bytes)
        self.dlq = app.topic(NOTIFICATIONS_DLQ, key_type=bytes, value_type=bytes)
        self.stream_dlq = app.topic(topics.CLINICAL_EVENTS_DLQ, key_type=bytes, value_type=bytes)
        # use_partitioner: couriers write outside any stream event; the key (patient id) picks the
        # changelog partition, the one that patient's notifications arrive on.
        self.table = app.Table(
            STATE_TABLE, default=None, key_type=bytes, value_type=bytes, use_partitioner=True
        )
        self.couriers = {
            e.name: Courier(e, self, on_error=lambda exc: fail_fast(SERVICE, exc)) for e in endpoints
        }
        self._partitions = topics.partitions()
        self._scanned_for: frozenset[int] = frozenset()

    # --- the Store the couriers write through --------------------------------------------------------------
    def owns(self, key: bytes) -> bool:
        return self.shell.owns(key, self._partitions)

    async def attempting(self, job: Job, endpoint: str, attempt: int) -> None:
        state = self._held(job.key)
        if state is None:
            return
        state.attempting(job.event_id, endpoint, attempt=attempt, now=time.time())
        self._store(job.key, state)
        await self.app.producer.flush()  # in the changelog before the request goes out

    def record(self, job: Job, endpoint: str, status: str) -> None:
        state = self._held(job.key)
        if state is None:
            return
        state.record(
            job.event_id,
            endpoint,
            attempts=job.attempts,
            status=status,
            error=job.last_error,
            now=time.time(),
        )
        self._store(job.key, state)

    async def dead_letter(self, job: Job, endpoint: Endpoint) -> None:
        delivery = self._load(job.key).deliveries.get(job.event_id)
        record = dead_letter(
            endpoint=endpoint.name,
            url=endpoint.url,
            event_id=job.event_id,
            event_type=job.event_type,
            attempts=job.attempts,
            last_error=job.last_error or "retry budget spent",
            first_seen=job.first_seen,
            at=time.time(),
            event=delivery.event if delivery else None,
        )
        fut = await self.dlq.send(key=job.key, value=record, headers=topics.header_list(NOTIFICATIONS_DLQ))
        await fut
        log.warning("notification dead-lettered", endpoint=endpoint.name, attempts=job.attempts)

    # --- input ------------------------------------------------------------------------------------------------
    async def on_batch(self, messages: list[Any]) -> None:
        started = time.perf_counter()
        for m in messages:
            await self.on_record(m.key or b"", m.value)
            self.shell.processed(m.tp, m.offset)
        PROCESSING_SECONDS.labels(SERVICE).observe((time.perf_counter() - started) / len(messages))

    async def on_record(self, key: bytes, value: bytes) -> None:
        try:
            event = envelope.decode(value)
            notification = Notification.from_event(event)
        except (NotRoutable, ValueError) as exc:
            await self._unreadable(key, value, str(exc))
            return
        EVENTS_CONSUMED.labels(SERVICE, notification.type).inc()
        targets = routes(notification, self.endpoints.values())
        if not targets:
            return
        now = time.time()
        state = self._load(key)
        planned = state.plan(event, [t.name for t in targets], now)
        if planned.changed:
            self._store(key, state)
        for name in planned.already_done:
            metrics.DELIVERIES.labels(name, "duplicate").inc()
        delivery = state.deliveries[notification.id]
        for name in planned.send:
            target = delivery.targets[name]
            self._submit(
                key,
                delivery.event or event,
                name,
                delivery.first_seen,
                target.attempts,
                target.last_error,
                target.in_flight,
            )

    def _submit(
        self,
        key: bytes,
        event: Mapping[str, Any],
        endpoint: str,
        first_seen: float,
        attempts: int,
        error: str,
        in_doubt: bool,
    ) -> None:
        courier = self.couriers.get(endpoint)
        if courier is None:  # no longer configured: left pending in the table
            return
        job = Job(
            key=key,
            event_id=str(event["id"]),
            event_type=str(event["type"]),
            payload=payload(courier.endpoint.format, event),
            first_seen=first_seen,
            attempts=attempts,
            last_error=error,
            in_doubt=in_doubt,
            traceparent=tracing.parent_of(event),
        )
        if courier.submit(job) and in_doubt:
            metrics.REDELIVERIES_IN_DOUBT.labels(endpoint).inc()
            log.warning("delivery in doubt sent again", endpoint=endpoint)

    async def _unreadable(self, key: bytes, value: bytes, why: str) -> None:
        DECODE_ERRORS.labels(SERVICE, "inputs").inc()
        record = unprocessable(
            service=SERVICE, reason="unreadable", detail=why, raw=value, at=self.clock.now()
        )
        await self.stream_dlq.send(
            key=key or None, value=record, headers=topics.header_list(topics.CLINICAL_EVENTS_DLQ)
        )
        log.warning("input dead-lettered", reason="unreadable")

    # --- recovery ---------------------------------------------------------------------------------------------
    async def on_tick(self) -> None:
        """After start-up and every rebalance: deliver what the table holds as pending for our partitions,
        once those partitions are owned and their table recovered (a partial table would resume some
        deliveries and not others; a partition being handed over is another worker's to resume)."""
        recovered = self.shell.recovered_partitions()
        if not recovered or recovered == self._scanned_for:
            return
        self._scanned_for = recovered
        resumed = 0
        now = time.time()
        for key, value in list(self.table.items()):
            if not value or self.shell.partition_of(key, self._partitions) not in recovered:
                continue
            state = PatientDeliveries.from_bytes(value)
            if state.prune(now, self.settings.retention_s):
                self._store(key, state)
            for _, name, delivery, target in list(state.pending()):
                assert delivery.event is not None
                self._submit(
                    key,
                    delivery.event,
                    name,
                    delivery.first_seen,
                    target.attempts,
                    target.last_error,
                    target.in_flight,
                )
                resumed += 1
        log.info("pending deliveries resumed", count=resumed)

    # --- table --------------------------------------------------------------------------------------------------
    def _load(self, key: bytes) -> PatientDeliveries:
        return PatientDeliveries.from_bytes(self.table.get(key))

    def _held(self, key: bytes) -> PatientDeliveries | None:
        """The patient's deliveries as the table holds them, for a courier to update; ``None`` when it holds
        none (a worker that is stopping: Faust has let go of its tables). Never an empty state in its
        place: written back, it would replace every delivery of that patient still pending in the
        changelog, and the partition's next owner would not resume them."""
        raw = self.table.get(key)
        if not raw:
            metrics.STATES_MISSING.inc()
            log.warning("a courier's delivery has no stored state here: not written")
            return None
        return PatientDeliveries.from_bytes(raw)

    def _store(self, key: bytes, state: PatientDeliveries) -> None:
        state.prune(time.time(), self.settings.retention_s)
        self.table[key] = state.to_bytes()


def register(
    app: App, shell: WorkerShell, settings: NotifierSettings, endpoints: tuple[Endpoint, ...], clock: Clock
) -> NotifierShell:
    ns = NotifierShell(app, shell, settings, endpoints, clock)

    batch_agent(
        app,
        ns.source,
        name="notifier",
        service=SERVICE,
        batch_max=settings.batch_max,
        within=settings.batch_within_s,
        handle=ns.on_batch,
    )

    async def couriers() -> None:
        await asyncio.gather(*(c.run() for c in ns.couriers.values()))

    app.task(guard(SERVICE, couriers))
    app.timer(1.0, name="notifier-resume")(guard(SERVICE, ns.on_tick))
    return ns
