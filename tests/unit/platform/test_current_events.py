"""Which fetched messages a worker handles around a rebalance, and what becomes of the others.

A message fetched before a rebalance must be neither handled nor acknowledged, and neither may any later
message of its partition: the partition's owner reads them again, in order. These use Faust's own
Message and Event types; only the app (generation, flow control) and the consumer (acknowledgements,
assignment, seeks) are stand-ins.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.events import Event
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from carepath.fetch_batches import Fence
from carepath.stream_metrics import STALE_EVENTS_LEFT
from carepath.streaming import current_events

TOPIC = "care.escalations"
P0, P1 = TP(TOPIC, 0), TP(TOPIC, 1)


class _Consumer:
    def __init__(self, assigned: set[TP]) -> None:
        self.acked: list[tuple[int, int]] = []
        self.sought: dict[TP, int] = {}
        self.assigned = assigned

    def ack(self, message: ConsumerMessage) -> bool:
        self.acked.append((message.partition, message.offset))
        return True

    def assignment(self) -> set[TP]:
        return self.assigned

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought[tp] = offset


class _Flow:
    def __init__(self, active: bool) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active


def _app(
    generation: int,
    *,
    flowing: bool = True,
    assigned: frozenset[TP] = frozenset({P0, P1}),
    stopping: bool = False,
) -> Any:
    return SimpleNamespace(
        consumer_generation_id=generation,
        flow_control=_Flow(flowing),
        consumer=_Consumer(set(assigned)),
        should_stop=stopping,
    )


def _message(tp: TP, offset: int, generation: int) -> ConsumerMessage:
    m = ConsumerMessage(
        TOPIC,
        tp.partition,
        offset,
        0.0,
        0,
        None,
        b"p1",
        b"{}",
        None,
        None,
        None,
        tp=tp,
        generation_id=generation,
    )
    m.refcount = 1
    return m


def _left() -> float:
    return float(STALE_EVENTS_LEFT.labels("test")._value.get())


def test_messages_of_the_current_generation_are_all_handled() -> None:
    app = _app(5)
    fence = Fence(app, "test")
    messages = [_message(P0, n, 5) for n in range(3)]
    assert fence.take(messages) == messages
    assert fence.left == {}


def test_a_stale_message_leaves_the_rest_of_its_partition_and_is_read_again_from_it() -> None:
    app = _app(6)
    fence = Fence(app, "test")
    stale_p0 = [_message(P0, n, 5) for n in (10, 11)]
    fresh_p0 = [_message(P0, n, 6) for n in (12, 13)]
    fresh_p1 = [_message(P1, n, 6) for n in (4, 5)]
    before = _left()
    assert fence.take(stale_p0 + fresh_p1 + fresh_p0) == fresh_p1
    assert _left() - before == 4
    assert fence.left == {P0: 10}
    asyncio.run(fence.rewind(app.consumer))
    assert app.consumer.sought == {P0: 10}  # still owned: read again from the first one left, in order
    assert fence.left == {}


def test_a_partition_that_moved_away_is_not_sought() -> None:
    app = _app(6, assigned=frozenset({P1}))
    fence = Fence(app, "test")
    assert fence.take([_message(P0, 3, 5)]) == []
    asyncio.run(fence.rewind(app.consumer))
    assert app.consumer.sought == {}  # its new owner reads it from the committed offset


def test_nothing_is_handled_while_a_rebalance_has_stopped_the_flow_and_nothing_is_sought() -> None:
    app = _app(7, flowing=False)
    fence = Fence(app, "test")
    assert fence.take([_message(P0, n, 7) for n in range(2)]) == []
    asyncio.run(fence.rewind(app.consumer))
    assert app.consumer.sought == {}  # the next assignment seeks every partition to its commit


def test_faust_events_left_behind_are_never_acknowledged_to_the_consumer() -> None:
    app = _app(6)
    events = [Event(app, b"p1", b"{}", None, m) for m in (_message(P0, 1, 5), _message(P1, 2, 6))]
    current = asyncio.run(current_events(app, "test", events))
    assert [e.message.offset for e in current] == [2]
    for event in events:  # what Faust's batch does with every event it handed over
        event.ack()
    assert app.consumer.acked == [(1, 2)]  # the stale offset can never be committed from here
    assert app.consumer.sought == {P0: 1}


def test_nothing_is_handled_once_the_worker_is_stopping_and_nothing_is_sought() -> None:
    """Faust lets go of the tables while it stops: a batch handled then would read empty states. What was
    fetched is left, never acknowledged, and read by the partitions' next owner from the commit."""
    app = _app(8, stopping=True)
    fence = Fence(app, "test")
    before = _left()
    assert fence.take([_message(P0, n, 8) for n in range(3)]) == []
    assert _left() - before == 3
    asyncio.run(fence.rewind(app.consumer))
    assert app.consumer.sought == {}
