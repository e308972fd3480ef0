"""Read topics in tests with a real Kafka consumer (kafka-python), no consumer group, from the start."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition


class TopicReader:
    def __init__(self, bootstrap: str, topic: str, security: dict[str, Any] | None = None) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
            **(security or {}),
        )
        parts = self.consumer.partitions_for_topic(topic) or set()
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            time.sleep(0.1)
            parts = self.consumer.partitions_for_topic(topic) or set()
        assert parts, f"topic {topic} has no partitions"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes | None, bytes]] = []
        self.headers: list[list[tuple[str, bytes]]] = []  # each raw record's headers

    def poll(self) -> None:
        for batch in self.consumer.poll(timeout_ms=100).values():
            for msg in batch:
                self.raw.append((msg.key, msg.value))
                self.headers.append(list(msg.headers))
                try:
                    self.records.append(orjson.loads(msg.value))
                except orjson.JSONDecodeError:  # other tests put poison records on shared topics on purpose
                    self.records.append({"undecodable": True})

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Records matching ``predicate`` once at least ``count`` of them have arrived (or fail)."""
        deadline = time.monotonic() + timeout
        while True:
            matched = [r for r in self.records if predicate(r)]
            if len(matched) >= count:
                return matched
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.topic}: {len(matched)} of {count} expected records after {timeout:.0f}s "
                    f"({len(self.records)} records read in all)"
                )
            self.poll()

    def catch_up(self, timeout: float = 30.0) -> None:
        """Read until every partition is at the end it has now: afterwards ``records`` holds everything
        published before this call (one :meth:`poll` may return only part of it on a busy machine)."""
        parts = self.consumer.assignment()
        ends = self.consumer.end_offsets(list(parts))
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: not read to its end within {timeout:.0f}s")
            self.poll()

    def settle(self, seconds: float) -> None:
        """Keep reading for ``seconds`` (to show that nothing more arrives)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()

    def close(self) -> None:
        self.consumer.close()


def for_patient(patient: str, type_prefix: str = "") -> Callable[[dict[str, Any]], bool]:
    return lambda r: r.get("subject") == patient and str(r.get("type", "")).startswith(type_prefix)


def read_between(
    bootstrap: str, topic: str, since: dict[int, int], until: dict[int, int], timeout: float = 60.0
) -> list[Any]:
    """Every record of ``topic`` between two sets of end offsets (partition -> offset), read directly from
    each partition (kafka-python's records: ``key``, ``value``, ``partition``, ``offset``, ``headers``)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    try:
        tps = [TopicPartition(topic, p) for p in until]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, since.get(tp.partition, 0))
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while not all(consumer.position(tp) >= until[tp.partition] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: not read to the offsets it had after publishing")
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(r for r in batch if r.offset < until[r.partition])
        return records
    finally:
        consumer.close()
