"""The publishing seam: intake answers only after the broker has acknowledged (``acks=all``).

``KafkaPublisher`` is the real one (aiokafka, on intake's event loop); ``MemoryPublisher`` is the
in-memory implementation used by unit tests of the HTTP layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from carepath import kafka_security, topics
from carepath.profile import PRODUCER_BATCH_BYTES, BrokerProfile
from carepath.settings import KafkaConnectionSettings


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
    async def close(self) -> None: ...


class KafkaPublisher:
    """aiokafka's producer on intake's own event loop: a request's records are handed to the producer
    together and the publish returns once the broker has acknowledged every one (``acks=all``).

    The producer runs where the requests are handled, so a publish costs no thread hop and no I/O
    thread contending for the interpreter (kafka-python's sender thread took ~4 ms of processor a
    request and ~50 µs a record here; aiokafka ~1 ms and ~20 µs: README "Benchmark"). It is started on
    the first publish, so intake can start before the broker answers; a start that fails is tried again
    on the next publish. Idempotent where the broker
    supports it (:attr:`carepath.profile.BrokerProfile.idempotent_producer`); a retried record that
    lands twice without it is suppressed downstream by its event id, as any resubmission is.
    """

    def __init__(
        self,
        bootstrap: list[str],
        profile: BrokerProfile,
        timeout_s: float,
        security: KafkaConnectionSettings | None = None,
    ) -> None:
        """``security``: where the TLS/SASL settings come from (:mod:`carepath.kafka_security`)."""
        self._timeout_s = timeout_s
        self._bootstrap = bootstrap
        self._profile = profile
        self._security = security
        self._producer: Any = None
        self._starting: asyncio.Lock | None = None
        self._prober: Any = None

    async def _started(self) -> Any:
        if self._producer is not None:
            return self._producer
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._producer is None:
                from aiokafka import AIOKafkaProducer

                request_ms = int(min(self._timeout_s, 30) * 1000)
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id="carepath-intake",
                    acks="all",
                    enable_idempotence=self._profile.idempotent_producer,
                    linger_ms=self._profile.producer_linger_ms,
                    max_batch_size=PRODUCER_BATCH_BYTES,
                    request_timeout_ms=request_ms,
                    retry_backoff_ms=100,
                    **(kafka_security.aiokafka_kwargs(self._security) if self._security else {}),
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
        return self._producer

    async def _send_all(self, records: Sequence[Record]) -> None:
        producer = await self._started()
        send = producer.send
        acks = [await send(r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
        # every answer awaited, so that none is left unread when one fails; the first failure is raised
        for answer in await asyncio.gather(*acks, return_exceptions=True):
            if isinstance(answer, BaseException):
                raise answer

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        try:
            await asyncio.wait_for(self._send_all(records), timeout=self._timeout_s * 2 + 5)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # KafkaError, TimeoutError, connection errors
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    def _probe(self) -> bool:
        from kafka import KafkaConsumer

        if self._prober is None:
            self._prober = KafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id="carepath-intake-probe",
                group_id=None,
                request_timeout_ms=3000,
                **(kafka_security.kafka_python_kwargs(self._security) if self._security else {}),
            )
        return bool(self._prober.topics())  # always a fresh metadata request to the cluster

    async def reachable(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._probe), timeout=5)
        except Exception:
            return False

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()  # what was handed over is sent (or fails) first
        if self._prober is not None:
            prober, self._prober = self._prober, None
            await asyncio.to_thread(prober.close)


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

    async def close(self) -> None:
        return None
