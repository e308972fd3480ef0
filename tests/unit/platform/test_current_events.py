"""Which events of a Faust batch a worker handles after a rebalance, and what it leaves unacknowledged.

Faust's batch buffer outlives a rebalance. An event fetched before one must be neither handled nor
acknowledged: the partition's owner after the rebalance reads it again from the committed offset. These
use Faust's own Message and Event types; only the app (generation, flow control, the consumer that records acknowledgements) is a stand-in.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.events import Event
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from carepath.stream_metrics import STALE_EVENTS_LEFT
from carepath.streaming import current_events

TOPIC = "care.escalations"


class _Consumer:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: ConsumerMessage) -> bool:
        self.acked.append(message.offset)
        return True


class _Flow:
    def __init__(self, active: bool) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active


def _app(generation: int, *, flowing: bool = True) -> Any:
    return SimpleNamespace(
        consumer_generation_id=generation, flow_control=_Flow(flowing), consumer=_Consumer()
    )


def _event(app: Any, offset: int, generation: int) -> Event:
    message = ConsumerMessage(
        TOPIC,
        0,
        offset,
        0.0,
        0,
        None,
        b"p1",
        b"{}",
        None,
        None,
        None,
        tp=TP(TOPIC, 0),
        generation_id=generation,
    )
    message.refcount = 1
    return Event(app, b"p1", b"{}", None, message)


def _left() -> float:
    return float(STALE_EVENTS_LEFT.labels("test")._value.get())


def test_events_of_the_current_generation_are_all_handled() -> None:
    app = _app(5)
    events = [_event(app, n, 5) for n in range(3)]
    assert current_events(app, "test", events) == events


def test_events_fetched_before_the_rebalance_are_left_and_never_acknowledged_to_the_consumer() -> None:
    app = _app(6)
    stale, fresh = [_event(app, n, 5) for n in range(3)], [_event(app, n, 6) for n in range(3, 5)]
    before = _left()
    assert current_events(app, "test", stale + fresh) == fresh
    assert _left() - before == 3
    for event in stale + fresh:  # what Faust's batch does with every event it handed over
        event.ack()
    assert app.consumer.acked == [3, 4]  # the stale offsets can never be committed from here


def test_nothing_is_handled_while_a_rebalance_has_stopped_the_flow() -> None:
    app = _app(7, flowing=False)
    events = [_event(app, n, 7) for n in range(2)]
    assert current_events(app, "test", events) == []
    for event in events:
        event.ack()
    assert app.consumer.acked == []
