"""The publishing seam: intake answers only after the broker has acknowledged (``acks=all``).

``KafkaPublisher`` is the real one (kafka-python, idempotent producer); ``MemoryPublisher`` is the
in-memory implementation used by unit tests of the HTTP layer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from carepath import topics
from carepath.profile import PRODUCER_BATCH_BYTES, BrokerProfile


class PublishError(RuntimeError):
    """The broker did not acknowledge: nothing may be reported as stored."""


@dataclass(frozen=True)
class Record:
    """One record to publish. ``headers`` default to the topic's (its content type, from the catalogue:
    the CloudEvents Kafka binding in structured mode for a topic of CloudEvents)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: topics.Headers = ()

    def __post_init__(self) -> None:
        if not self.headers:
            object.__setattr__(self, "headers", topics.headers(self.topic))


class Publisher(Protocol):
    async def publish(self, records: Sequence[Record]) -> None: ...
    async def reachable(self) -> bool: ...
    def close(self) -> None: ...


def _settle(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(None)


class _Acknowledgements:
    """A publish's acknowledgements, counted in the producer's I/O thread: the event loop is woken once,
    when the last record is acknowledged or the first fails, not once per record (a thread hop and a
    future per record were most of intake's time per event)."""

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self.done: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._left = count
        self._settled = False
        self._lock = threading.Lock()  # the I/O thread, or the sending thread when a send fails at once

    def ok(self, _metadata: Any) -> None:
        with self._lock:
            self._left -= 1
            if self._left or self._settled:
                return
            self._settled = True
        self._loop.call_soon_threadsafe(_settle, self.done, None)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        self._loop.call_soon_threadsafe(_settle, self.done, PublishError(str(exc)))


class KafkaPublisher:
    def __init__(
        self,
        bootstrap: list[str],
        profile: BrokerProfile,
        timeout_s: float,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        """``security``: TLS/SASL arguments (:func:`carepath.kafka_security.kafka_python_kwargs`)."""
        from kafka import KafkaProducer

        self._timeout_s = timeout_s
        self._bootstrap = bootstrap
        self._security = dict(security or {})
        self._prober: Any = None
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="carepath-intake",
            acks="all",
            enable_idempotence=True,
            linger_ms=profile.producer_linger_ms,
            batch_size=PRODUCER_BATCH_BYTES,
            max_block_ms=int(timeout_s * 1000),
            request_timeout_ms=int(min(timeout_s, 30) * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + int(min(timeout_s, 30) * 1000),
            retry_backoff_ms=100,
            **self._security,
        )

    def _send_all(self, records: Sequence[Record], acks: _Acknowledgements) -> None:
        for r in records:
            fut = self._producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))
            fut.add_callback(acks.ok)
            fut.add_errback(acks.failed)

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        acks = _Acknowledgements(len(records), asyncio.get_running_loop())
        try:
            await asyncio.to_thread(self._send_all, records, acks)
            await asyncio.wait_for(acks.done, timeout=self._timeout_s * 2 + 5)
        except PublishError:
            raise
        except Exception as exc:  # KafkaTimeoutError, TimeoutError, connection errors
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    def _probe(self) -> bool:
        from kafka import KafkaConsumer

        if self._prober is None:
            self._prober = KafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id="carepath-intake-probe",
                group_id=None,
                request_timeout_ms=3000,
                **self._security,
            )
        return bool(self._prober.topics())  # always a fresh metadata request to the cluster

    async def reachable(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._probe), timeout=5)
        except Exception:
            return False

    def close(self) -> None:
        self._producer.close(timeout=5)
        if self._prober is not None:
            self._prober.close()


@dataclass
class MemoryPublisher:
    """Keeps what it is given; ``fail`` makes every publish raise, as a down broker would."""

    records: list[Record] = field(default_factory=list)
    fail: bool = False

    async def publish(self, records: Sequence[Record]) -> None:
        if self.fail:
            raise PublishError("broker unavailable")
        self.records.extend(records)

    async def reachable(self) -> bool:
        return not self.fail

    def close(self) -> None:
        return None
