"""The page's own reading of the topics: every partition of care.escalations, care.reminders,
care.acknowledgements (and clinical.events for the timelines) from the beginning, into the :class:`View`,
each change passed on to the live pages.

No consumer group: every page process reads everything, so any replica answers for every patient and a
restart rebuilds the view from the topics. The page is ready once it has read each partition up to the
high-watermark of its first fetch (right on Kafka and on the embedded broker, see carepath/profile.py).
It is live while the broker answers; the pages are told when it stops answering and when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from carepath import logs, topics
from worklist import metrics
from worklist.view import Change, View

log = logs.get("worklist.feed")
PROBE_EVERY_S = 3.0
PROBE_TIMEOUT_S = 3.0
SUBSCRIBER_QUEUE = 200
TOPIC_WAIT_TRIES = 60


@dataclass
class Hub:
    """The live pages listening: each a bounded queue; one that falls behind is dropped (its page
    reconnects and reloads)."""

    subscribers: set[asyncio.Queue[Change | None]] = field(default_factory=set)

    def publish(self, change: Change) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait(change)
            except asyncio.QueueFull:
                self.subscribers.discard(q)
                metrics.LIVE_DROPPED.inc()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        q: asyncio.Queue[Change | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.subscribers.add(q)
        metrics.LIVE_PAGES.set(len(self.subscribers))
        try:
            yield q
        finally:
            self.subscribers.discard(q)
            metrics.LIVE_PAGES.set(len(self.subscribers))

    def close(self) -> None:
        for q in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)


@dataclass
class Feed:
    view: View
    hub: Hub
    bootstrap: list[str]
    # TLS/SASL arguments for aiokafka (carepath.kafka_security.aiokafka_kwargs)
    security: dict[str, Any] = field(default_factory=dict)
    fetch_max_wait_ms: int = 100
    request_timeout_ms: int = 30_000
    read_clinical_events: bool = True
    caught_up: bool = False
    live: bool = False
    records: int = 0
    _ends: dict[object, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _probe: asyncio.Task[None] | None = None

    @property
    def topics(self) -> list[str]:
        names = [topics.ESCALATIONS, topics.REMINDERS, topics.ACKNOWLEDGEMENTS]
        return [*names, topics.CLINICAL_EVENTS] if self.read_clinical_events else names

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="worklist-feed")

    async def stop(self) -> None:
        for task in (self._probe, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.hub.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_live(False)
                log.warning("feed_failed", error=type(exc).__name__)
                await asyncio.sleep(2.0)

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="carepath-worklist",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # records gone from under the reader: read again from the first
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            request_timeout_ms=self.request_timeout_ms,
            **self.security,
        )
        await consumer.start()
        try:
            for _ in range(TOPIC_WAIT_TRIES):
                if set(self.topics) <= await consumer.topics():
                    break
                await asyncio.sleep(0.5)  # not created yet
            else:
                raise LookupError(f"topics missing after {TOPIC_WAIT_TRIES * 0.5:.0f} s: {self.topics}")
            # every topic has the catalogue's partition count (schemas/topics.json, the contract)
            partitions = [TopicPartition(t, p) for t in self.topics for p in range(topics.partitions())]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._ends = {}
            self._set_live(True)
            self._probe = asyncio.create_task(self._watch(consumer), name="worklist-feed-probe")
            log.info("feed_started", partitions=len(partitions))
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, messages in batches.items():
                    for m in messages:
                        self.records += 1
                        change = self.view.apply(tp.topic, m.value)
                        metrics.RECORDS.labels(tp.topic, "applied" if change else "unchanged").inc()
                        if change is not None and self.caught_up:
                            self.hub.publish(change)
                if not self.caught_up:
                    await self._check_caught_up(consumer, partitions)
                metrics.HELD.labels("escalations").set(len(self.view.alerts))
                metrics.HELD.labels("patients").set(len(self.view.timelines))
                metrics.EVICTED.set(self.view.evicted)
        finally:
            if self._probe is not None:
                self._probe.cancel()
            await consumer.stop()

    async def _check_caught_up(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            if tp not in self._ends and (high := consumer.highwater(tp)) is not None:
                self._ends[tp] = high
        if len(self._ends) == len(partitions) and all(
            [await consumer.position(tp) >= self._ends[tp] for tp in partitions]
        ):
            self.caught_up = True
            log.info("feed_caught_up", records=self.records, escalations=len(self.view.alerts))

    async def _watch(self, consumer: Any) -> None:
        """Whether the broker answers: a metadata request every few seconds, bounded in time."""
        while True:
            await asyncio.sleep(PROBE_EVERY_S)
            started = time.monotonic()
            try:
                await asyncio.wait_for(consumer.topics(), PROBE_TIMEOUT_S)
                ok = time.monotonic() - started < PROBE_TIMEOUT_S
            except Exception:
                ok = False
            self._set_live(ok)

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            metrics.LIVE.set(1 if live else 0)
            log.info("feed_live" if live else "feed_not_live")
            self.hub.publish(Change("status", "live" if live else "not-live"))
