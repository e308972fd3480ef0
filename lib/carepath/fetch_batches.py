"""The batch-native consumer path: each fetch handed to a worker as one batch of messages.

Faust delivers every fetched record one at a time: a ``Message`` and an ``Event`` per record, a dispatch
lock, a queue, the stream's per-event bookkeeping, sensors in and out, and a wait on two futures per
record in the fetcher. At tens of thousands of records a second that machinery, not the broker or the
clinical rules, is what a worker spends its time on. Here the fetcher (the task that drains the
consumer) hands each fetch of a worker's input topics to its handler as one list, in partition order,
and acknowledges every message once the handler has finished; everything else Faust does is kept:
group membership, assignment, rebalancing, table changelog recovery (changelog records still go through
Faust's own dispatch), offset tracking, gaps and the commit timer.

Kept from Faust's own loop: records older than a partition's read offset (re-delivered after a seek) are
skipped, a jump in offsets is recorded as a gap, a fetch made while flow is stopped seeks back to the
committed offsets instead of being delivered. A message is handled only with flow on and in the
generation it was fetched in (:class:`Fence`); one left is never acknowledged and is read again. The handler runs shielded: stopping the fetcher
(Faust does at each rebalance) lets a batch in flight finish, as it did under an agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from carepath import logs
from carepath.stream_metrics import STALE_EVENTS_LEFT

log = logs.get(__name__)

Handler = Callable[[list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class BatchSource:
    """A worker's input topics and the handler their fetched messages go to, in batches of at most
    ``batch_max``."""

    service: str
    topics: frozenset[str]
    handle: Handler
    batch_max: int


class Fence:
    """Which messages a worker may handle now, and what happens to the others.

    A message is handled only with flow on (Faust stops it when a rebalance starts and resumes it once the
    new assignment's tables are recovered), in the consumer group generation it was fetched in, and while
    the worker is not stopping: Faust lets go of the tables while it stops, and a batch handled then would
    read its patients' states as empty; left, it is read again by the partition's next owner. For
    each partition, the first message that fails this and every later one of that partition are left:
    not handled, never acknowledged, so no commit records them. If this worker still owns the partition,
    its consumer is sought back to the first one left, so they are read again, in order; if not, the
    partition's owner reads them from the committed offset. Leaving only the stale message and handling
    later ones would be worse than handling all: Faust commits past a single missing offset at the head
    of a partition's acknowledgements, and the later messages would be handled before it."""

    def __init__(self, app: Any, service: str) -> None:
        self.app, self.service = app, service
        self.left: dict[Any, int] = {}  # tp -> first offset left, for the fetch being handled

    def take(self, messages: list[Any]) -> list[Any]:
        app = self.app
        active = app.flow_control.is_active() and not app.should_stop
        generation = app.consumer_generation_id
        left = self.left
        current: list[Any] = []
        n_left = 0
        for m in messages:
            tp = m.tp
            if tp in left or not active or m.generation_id != generation:
                if tp not in left:
                    left[tp] = m.offset
                n_left += 1
            else:
                current.append(m)
        if n_left:
            STALE_EVENTS_LEFT.labels(self.service).inc(n_left)
        return current

    async def rewind(self, consumer: Any) -> None:
        """Seek back to what was left, on the partitions this worker still owns (with flow on; while it is
        off, the next assignment seeks every partition to its committed offset anyway)."""
        left, self.left = self.left, {}
        if not left or not self.app.flow_control.is_active() or self.app.should_stop:
            return
        assigned = consumer.assignment()
        for tp, offset in left.items():
            if tp in assigned:
                try:
                    await consumer.seek(tp, offset)
                except (
                    Exception
                ) as exc:  # the partition moved meanwhile: its next owner reads from the commit
                    log.warning("seek back to a message left unhandled failed", error=type(exc).__name__)
        log.info("messages of an earlier assignment left to be read again", partitions=len(left))


async def _run(app: Any, consumer: Any, source: BatchSource, messages: list[Any]) -> None:
    fence = Fence(app, source.service)
    for start in range(0, len(messages), source.batch_max):
        current = fence.take(messages[start : start + source.batch_max])
        if not current:
            continue
        await source.handle(current)
        ack = consumer.ack
        for message in current:
            ack(message)
    await fence.rewind(consumer)


async def drain(consumer: Any, fetcher: Any, sources: Mapping[str, BatchSource]) -> None:
    """Faust's ``Consumer._drain_messages`` with the topics of ``sources`` delivered a fetch at a time."""
    app = consumer.app
    callback = consumer.callback
    read_offset = consumer._read_offset
    acks_enabled_for = app.topics.acks_enabled_for
    to_message = consumer._to_message
    consumer_stopped = consumer._stopped.is_set
    fetcher_stopped = fetcher._stopped.is_set
    monitor = app.monitor
    try:
        while not (consumer_stopped() or fetcher_stopped()):
            records, active = await consumer._wait_next_records(1.0)
            await asyncio.sleep(0)
            if records is None or consumer.should_stop:
                continue
            if not consumer.flow_active:
                try:
                    await consumer.perform_seek()
                except Exception as exc:  # a partition moved meanwhile: the next assignment seeks again
                    log.warning(
                        "seek to committed offsets failed while flow was stopped", error=type(exc).__name__
                    )
                continue
            batches: dict[BatchSource, list[Any]] = {}
            for tp, tp_records in records.items():
                if active is not None and tp not in active and tp not in consumer._buffered_partitions:
                    continue
                if monitor is not None:
                    monitor.track_tp_end_offset(tp, consumer.highwater(tp))
                source = sources.get(tp.topic)
                into = None if source is None else batches.setdefault(source, [])  # hashed once a fetch
                r_offset = read_offset[tp]
                for record in tp_records:
                    offset = record.offset
                    if r_offset is not None and offset < r_offset:
                        continue  # delivered before a seek back; it comes again in order
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                        await consumer._add_gap(tp, r_offset + 1, offset)
                    message = to_message(tp, record)
                    if into is None:  # a changelog being recovered, or another agent's topic
                        await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
                    else:
                        into.append(message)
                    r_offset = offset
                read_offset[tp] = r_offset
            for source, messages in batches.items():
                if messages:
                    await asyncio.shield(_run(app, consumer, source, messages))
    except consumer.consumer_stopped_errors:
        if consumer.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        # Faust stops the fetcher at each rebalance and starts it again once the tables are recovered.
        # Its own task treats a cancellation during a rebalance as a crash and then fails to restart
        # itself, which ends the worker; Faust's loop is rarely cancelled, but this one is usually inside
        # a batch's handler (which goes on, shielded) when the rebalance comes. A stop is a stop.
        if app.should_stop or app.rebalancing or fetcher_stopped():
            return
        raise
