"""The followup timer wakes for the next deadline it knows of, not only at its periodic look: a real
worker process whose tick is 60 s, on a fast clock, on a real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from carepath import envelope, topics
from carepath.clock import ScaledClock
from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo
from tests.integration.test_followup_worker import publish, r1_escalation, start_followup
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def long_tick(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A followup worker whose periodic look comes only every 60 real seconds."""
    stack = start_followup(
        broker, tmp_path_factory.mktemp("followup-long-tick"), CAREPATH_FOLLOWUP_TICK_S="60"
    )
    yield stack
    stack.stop()


def test_the_timer_wakes_for_a_deadline_not_for_its_tick(broker: BrokerInfo, long_tick: Stack) -> None:
    """An escalation arriving while the timer sleeps its 60 s sets deadlines 0.1-12 real seconds away:
    each reminder goes out when its deadline passes, not at the next periodic look (which would send
    nothing at all within the 40 s waited here)."""
    clock = long_tick.clock
    assert isinstance(clock, ScaledClock)
    patient = f"fu-{uuid.uuid4().hex[:8]}"
    reader = TopicReader(broker.bootstrap, topics.REMINDERS)
    publish(broker.bootstrap, topics.ESCALATIONS, r1_escalation(long_tick, patient))

    def f3(kind: str) -> Any:
        def match(r: dict[str, Any]) -> bool:
            d = r["data"]
            return r.get("subject") == patient and d["expectation"]["id"] == "F3" and d["kind"] == kind

        return match

    warning = reader.wait_for(f3("warning"), timeout=40)[0]
    overdue = reader.wait_for(f3("overdue"), timeout=40)[0]
    arrived = time.time()
    due = envelope.parse_time(overdue["data"]["due_at"])
    due_real = clock.origin.timestamp() + clock.real_seconds(due - clock.origin)
    assert arrived - due_real < 10, f"the 24 h reminder came {arrived - due_real:.1f} s after its deadline"
    assert envelope.parse_time(warning["data"]["due_at"]) < due
    reader.close()
