"""One endpoint's deliveries: its own queue, its own workers and its own HTTP connections.

Endpoints never share a queue, a worker or a connection pool, so a slow or failing endpoint only delays
its own notifications. A failed attempt is retried after an exponential backoff with full jitter,
scheduled on the event loop (no worker sleeps through it); after the retry budget the notification is
dead-lettered for this endpoint. Every attempt is recorded as in flight through the :class:`Store`
(durably) before its request is sent, and its outcome before the next step: a restart resumes from that,
and knows which redeliveries are in doubt (see :mod:`notifier.state`).

An endpoint with an ``oauth2`` block gets a bearer token on every request from its own token cache
(:mod:`notifier.oauth2`), fetched over connections of its own. A 401 from the endpoint is answered by one
new token and the request once more, within the same attempt; a second 401 is a refusal. No token (the
token endpoint refused, failed or was unreachable) is a failed attempt with that reason, retried with
backoff and dead-lettered after the budget like any other.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import httpx

from carepath import logs, tracing
from notifier import metrics, oauth2, signing
from notifier.backoff import (
    AttemptResult,
    backoff_s,
    from_status,
    no_token,
    refused_again,
    timed_out,
    unreachable,
)
from notifier.config import Endpoint
from notifier.payloads import Payload
from notifier.state import DEAD, DELIVERED, PENDING

log = logs.get(__name__)


@dataclass(frozen=True)
class Job:
    key: bytes  # the patient id: the table key
    event_id: str  # the idempotency key
    event_type: str
    payload: Payload
    first_seen: float
    attempts: int = 0  # made so far (before a restart too)
    last_error: str = ""
    in_doubt: bool = False  # the last attempt was in flight when a worker stopped: it may have arrived
    traceparent: str | None = None  # the notification's trace context: each attempt is a span of it


class Store(Protocol):
    """Where delivery state is kept (the Faust table in the worker, a dict in unit tests)."""

    def owns(self, key: bytes) -> bool: ...
    async def attempting(self, job: Job, endpoint: str, attempt: int) -> None:
        """Record ``attempt`` as in flight, durably, before its request is sent."""

    def record(self, job: Job, endpoint: str, status: str) -> None: ...
    async def dead_letter(self, job: Job, endpoint: Endpoint) -> None: ...


class Courier:
    def __init__(
        self,
        endpoint: Endpoint,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.store = store
        self._transport = transport
        self._rng = rng or random.SystemRandom()
        self._on_error = on_error
        self._now = wall_clock
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._pending: set[str] = set()  # event ids queued, in flight or waiting for a retry
        self._timers: set[asyncio.TimerHandle] = set()
        self._client: httpx.AsyncClient | None = None
        self._token_client: httpx.AsyncClient | None = None
        self._tokens = oauth2.TokenCache(self._fetch_token, clock) if endpoint.oauth2 else None
        metrics.export(endpoint.name, oauth2=endpoint.oauth2 is not None)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, job: Job) -> bool:
        """Queue a delivery; False when this notification is already on its way to this endpoint."""
        if job.event_id in self._pending:
            return False
        self._pending.add(job.event_id)
        self._queue.put_nowait(job)
        metrics.PENDING.labels(self.endpoint.name).set(len(self._pending))
        return True

    async def run(self) -> None:
        limits = httpx.Limits(
            max_connections=self.endpoint.concurrency, max_keepalive_connections=self.endpoint.concurrency
        )
        async with (
            httpx.AsyncClient(transport=self._transport, limits=limits, follow_redirects=False) as client,
            httpx.AsyncClient(transport=self._transport, follow_redirects=False) as token_client,
        ):
            self._client = client
            self._token_client = token_client
            workers = [asyncio.create_task(self._work()) for _ in range(self.endpoint.concurrency)]
            try:
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()
                for timer in self._timers:
                    timer.cancel()
                self._client = None
                self._token_client = None

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._deliver(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._finish(job.event_id)
                if self._on_error is None:
                    raise
                self._on_error(exc)
            finally:
                self._queue.task_done()

    async def _deliver(self, job: Job) -> None:
        name = self.endpoint.name
        if not self.store.owns(job.key):  # the partition moved to another worker: it delivers from the table
            self._finish(job.event_id)
            return
        if job.attempts >= self.endpoint.retry.attempts:  # spent before a restart
            await self._give_up(job)
            return
        attempt = job.attempts + 1
        await self.store.attempting(job, name, attempt)
        with tracing.span(
            "notifier deliver",
            job.traceparent,
            kind=tracing.SpanKind.CLIENT,
            attributes={
                "carepath.endpoint": name,
                "carepath.attempt": attempt,
                "cloudevents.event_type": job.event_type,
            },
        ) as span:
            result = await self._post(job, attempt, span.traceparent)
            span.set("carepath.outcome", result.result)
            if not result.delivered:
                span.failed(result.result)
        metrics.ATTEMPTS.labels(name, result.result).inc()
        job = replace(job, attempts=attempt, last_error=result.error, in_doubt=False)
        if result.delivered:
            self.store.record(job, name, DELIVERED)
            metrics.DELIVERIES.labels(name, "delivered").inc()
            metrics.DELIVERY_SECONDS.labels(name).observe(max(self._now() - job.first_seen, 0.0))
            self._finish(job.event_id)
        elif result.retryable and attempt < self.endpoint.retry.attempts:
            self.store.record(job, name, PENDING)
            self._retry_later(job, result)
        else:
            await self._give_up(job)

    async def _post(self, job: Job, attempt: int, traceparent: str | None) -> AttemptResult:
        token = None
        if self._tokens is not None:
            try:
                token = await self._tokens.get()
            except oauth2.TokenError as exc:
                return no_token(exc)
        try:
            response = await self._send(job, attempt, token, traceparent)
            if response.status_code == 401 and self._tokens is not None and token is not None:
                log.info("bearer token refused; fetching a new one", endpoint=self.endpoint.name)
                try:
                    token = await self._tokens.refresh(token)
                except oauth2.TokenError as exc:
                    return no_token(exc)
                response = await self._send(job, attempt, token, traceparent)
                if response.status_code == 401:
                    return refused_again()
        except httpx.TimeoutException:
            return timed_out(self.endpoint.timeout_s)
        except httpx.HTTPError as exc:
            return unreachable(exc)
        return from_status(response.status_code, response.headers.get("retry-after"))

    async def _send(
        self, job: Job, attempt: int, token: str | None, traceparent: str | None
    ) -> httpx.Response:
        assert self._client is not None
        body = job.payload.body
        headers = signing.headers(
            key=self.endpoint.secret,
            previous_key=self.endpoint.previous_secret,
            body=body,
            timestamp=int(self._now()),
            event_id=job.event_id,
            event_type=job.event_type,
            attempt=attempt,
            content_type=job.payload.content_type,
            legacy=self.endpoint.legacy_signature,
        )
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if traceparent is not None:  # W3C Trace Context: the receiver may continue the trace
            headers["traceparent"] = traceparent
        return await self._client.post(
            self.endpoint.url, content=body, headers=headers, timeout=self.endpoint.timeout_s
        )

    async def _fetch_token(self) -> oauth2.Grant:
        assert self._token_client is not None and self.endpoint.oauth2 is not None
        return await oauth2.request_token(
            self.endpoint.name, self.endpoint.oauth2, self._token_client, self.endpoint.timeout_s, self._now
        )

    def _retry_later(self, job: Job, result: AttemptResult) -> None:
        delay = backoff_s(job.attempts, self.endpoint.retry, self._rng, result.retry_after_s)
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def requeue() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self._queue.put_nowait(job)

        handle = loop.call_later(delay, requeue)
        self._timers.add(handle)

    async def _give_up(self, job: Job) -> None:
        await self.store.dead_letter(
            job, self.endpoint
        )  # written (and acknowledged) before the state says so
        self.store.record(job, self.endpoint.name, DEAD)
        metrics.DEAD_LETTERS.labels(self.endpoint.name).inc()
        metrics.DELIVERIES.labels(self.endpoint.name, "dead_lettered").inc()
        self._finish(job.event_id)

    def _finish(self, event_id: str) -> None:
        self._pending.discard(event_id)
        metrics.PENDING.labels(self.endpoint.name).set(len(self._pending))
