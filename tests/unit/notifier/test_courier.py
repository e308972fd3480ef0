"""An endpoint's courier over an in-memory HTTP transport (httpx.MockTransport): retries with backoff,
one successful delivery per notification, dead letters after the budget, and endpoints that never hold
each other up."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from standardwebhooks import Webhook

from notifier.config import Endpoint, EscalationRoute, Retry
from notifier.courier import Courier, Job
from notifier.payloads import payload
from notifier.state import DEAD, DELIVERED, PENDING

pytestmark = pytest.mark.unit

SECRET = b"courier-test-secret-courier-test-secret"
FAST = Retry(attempts=4, base_s=0.001, cap_s=0.005)
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class MemoryStore:
    owned: bool = True
    records: list[tuple[str, str, str, int]] = field(default_factory=list)
    dead: list[tuple[str, str, int, str]] = field(default_factory=list)
    started: list[tuple[str, str, int]] = field(default_factory=list)  # attempts recorded as in flight

    def owns(self, key: bytes) -> bool:
        return self.owned

    async def attempting(self, job: Job, endpoint: str, attempt: int) -> None:
        self.started.append((job.event_id, endpoint, attempt))

    def record(self, job: Job, endpoint: str, status: str) -> None:
        self.records.append((job.event_id, endpoint, status, job.attempts))

    async def dead_letter(self, job: Job, endpoint: Endpoint) -> None:
        self.dead.append((job.event_id, endpoint.name, job.attempts, job.last_error))


def endpoint(
    name: str = "pager", retry: Retry = FAST, concurrency: int = 2, timeout_s: float = 5.0
) -> Endpoint:
    return Endpoint(
        name=name,
        url=f"https://{name}.example/hook",
        secret_env="X",
        secret=SECRET,
        retry=retry,
        concurrency=concurrency,
        timeout_s=timeout_s,
        escalations=EscalationRoute(),
    )


def job(event_id: str = "esc-1.r1", attempts: int = 0) -> Job:
    event = {"id": event_id, "type": "carepath.escalation.raised.v1", "subject": "MRN-1", "data": {}}
    return Job(b"MRN-1", event_id, event["type"], payload("carepath", event), time.time(), attempts)


def courier(ep: Endpoint, store: MemoryStore, handler: Handler) -> Courier:
    return Courier(ep, store, transport=httpx.MockTransport(handler), rng=random.Random(3))


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=20))


def test_an_endpoint_failing_twice_receives_the_notification_exactly_once() -> None:
    seen: list[httpx.Request] = []

    async def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) <= 2 else 200)

    store = MemoryStore()

    async def scenario() -> None:
        c = courier(endpoint(), store, flaky)
        task = asyncio.create_task(c.run())
        assert c.submit(job())
        await until(lambda: any(r[2] == DELIVERED for r in store.records))
        await asyncio.sleep(0.05)  # nothing further happens
        task.cancel()

    run(scenario)
    assert len(seen) == 3
    assert {r.headers["Idempotency-Key"] for r in seen} == {"esc-1.r1"}
    assert {r.headers["webhook-id"] for r in seen} == {"esc-1.r1"}  # the same on every retry
    assert [r.headers["X-Carepath-Delivery-Attempt"] for r in seen] == ["1", "2", "3"]
    for r in seen:
        assert Webhook(SECRET).verify(r.content, dict(r.headers)) == {
            "id": "esc-1.r1",
            "type": "carepath.escalation.raised.v1",
            "subject": "MRN-1",
            "data": {},
        }
        assert "X-Carepath-Signature" not in r.headers
    assert store.records == [
        ("esc-1.r1", "pager", PENDING, 1),
        ("esc-1.r1", "pager", PENDING, 2),
        ("esc-1.r1", "pager", DELIVERED, 3),
    ]
    assert store.dead == []


def test_after_the_retry_budget_the_notification_is_dead_lettered() -> None:
    calls: list[int] = []

    async def down(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503)

    store = MemoryStore()

    async def scenario() -> None:
        c = courier(endpoint(retry=Retry(attempts=3, base_s=0.001, cap_s=0.002)), store, down)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: bool(store.dead))
        assert c.pending == 0
        task.cancel()

    run(scenario)
    assert len(calls) == 3
    assert store.dead == [("esc-1.r1", "pager", 3, "HTTP 503")]
    assert store.records[-1] == ("esc-1.r1", "pager", DEAD, 3)


def test_a_refusal_is_not_retried() -> None:
    calls: list[int] = []

    async def refuses(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400)

    store = MemoryStore()

    async def scenario() -> None:
        c = courier(endpoint(), store, refuses)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: bool(store.dead))
        task.cancel()

    run(scenario)
    assert len(calls) == 1 and "not retried" in store.dead[0][3]


def test_a_slow_endpoint_does_not_hold_up_another() -> None:
    release = asyncio.Event()
    slow_started: list[str] = []
    fast_done: list[str] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        slow_started.append(request.headers["Idempotency-Key"])
        await release.wait()
        return httpx.Response(200)

    async def fast(request: httpx.Request) -> httpx.Response:
        fast_done.append(request.headers["Idempotency-Key"])
        return httpx.Response(200)

    slow_store, fast_store = MemoryStore(), MemoryStore()

    async def scenario() -> None:
        nonlocal release
        release = asyncio.Event()
        a = courier(endpoint("slow", concurrency=2, timeout_s=30), slow_store, slow)
        b = courier(endpoint("fast", concurrency=2), fast_store, fast)
        tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        for i in range(6):
            a.submit(job(f"esc-{i}.r1"))
            b.submit(job(f"esc-{i}.r1"))
        await until(lambda: len(fast_store.records) == 6, within=3)
        assert len(slow_started) == 2 and slow_store.records == []  # both slow workers stuck, fast all done
        release.set()
        await until(lambda: len(slow_store.records) == 6)
        for t in tasks:
            t.cancel()

    run(scenario)
    assert sorted(fast_done) == sorted(f"esc-{i}.r1" for i in range(6))


def test_a_failing_notification_waits_for_its_retry_without_blocking_the_next() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if request.headers["Idempotency-Key"] == "esc-bad.r1" else 200)

    store = MemoryStore()

    async def scenario() -> None:
        slow_retry = Retry(attempts=3, base_s=2.0, cap_s=2.0)  # the retry waits up to 2 s
        c = courier(endpoint(retry=slow_retry, concurrency=1), store, handler)
        task = asyncio.create_task(c.run())
        c.submit(job("esc-bad.r1"))
        c.submit(job("esc-good.r1"))
        await until(lambda: ("esc-good.r1", "pager", DELIVERED, 1) in store.records, within=1.5)
        task.cancel()

    run(scenario)


def test_an_unowned_partition_is_left_to_its_owner_and_a_duplicate_submit_is_ignored() -> None:
    calls: list[int] = []

    async def ok(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200)

    store = MemoryStore(owned=False)

    async def scenario() -> None:
        c = courier(endpoint(), store, ok)
        task = asyncio.create_task(c.run())
        assert c.submit(job())
        assert not c.submit(job())
        await until(lambda: c.pending == 0)
        task.cancel()

    run(scenario)
    assert calls == [] and store.records == []


def test_a_budget_spent_before_a_restart_is_dead_lettered_without_another_attempt() -> None:
    calls: list[int] = []

    async def ok(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200)

    store = MemoryStore()

    async def scenario() -> None:
        c = courier(endpoint(), store, ok)
        task = asyncio.create_task(c.run())
        c.submit(job(attempts=FAST.attempts))
        await until(lambda: bool(store.dead))
        task.cancel()

    run(scenario)
    assert calls == [] and store.dead[0][2] == FAST.attempts


def test_a_timeout_is_retried() -> None:
    calls: list[int] = []

    async def hangs_once(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(204)

    store = MemoryStore()

    async def scenario() -> None:
        c = courier(endpoint(), store, hangs_once)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: any(r[2] == DELIVERED for r in store.records))
        task.cancel()

    run(scenario)
    assert len(calls) == 2 and store.records[0] == ("esc-1.r1", "pager", PENDING, 1)


def test_each_attempt_is_recorded_in_flight_before_its_request_is_sent() -> None:
    """What lets a restarted worker tell a redelivery in doubt (the endpoint may have it) from a first."""
    store = MemoryStore()
    seen_before_request: list[list[tuple[str, str, int]]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen_before_request.append(list(store.started))
        return httpx.Response(503 if len(seen_before_request) == 1 else 200)

    async def scenario() -> None:
        c = courier(endpoint(), store, handler)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: any(r[2] == DELIVERED for r in store.records))
        task.cancel()

    run(scenario)
    assert seen_before_request == [
        [("esc-1.r1", "pager", 1)],
        [("esc-1.r1", "pager", 1), ("esc-1.r1", "pager", 2)],
    ]
    assert [r[2:] for r in store.records] == [(PENDING, 1), (DELIVERED, 2)]
