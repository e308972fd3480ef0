"""Plain Kafka clients for the bench: load a backlog, create a topic, read a topic back with timestamps.

kafka-python here, as intake uses it (with ``crc32c`` installed, which its record checksums need to be
fast). Nothing in here relies on end offsets, which the embedded broker answers wrongly (see
:mod:`carepath.profile`): a topic is counted by reading it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from carepath_tools.bench.workload import Event

# Producer batching for loading backlogs and for the raw ceiling: larger batches than intake's
# request-sized ones, still acks=all.
BATCH_BYTES = 256 * 1024
LINGER_MS = 5


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    timestamp_ms: int
    key: bytes | None
    value: bytes


def producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="carepath-bench",
        acks="all",
        linger_ms=LINGER_MS,
        batch_size=BATCH_BYTES,
        max_request_size=4 * 1024 * 1024,
    )


def produce(bootstrap: str, topic: str, events: Sequence[Event]) -> float:
    """Send every event (keyed by patient) with acks=all; returns the seconds from first send to flush."""
    p = producer(bootstrap)
    try:
        p.partitions_for(topic)  # metadata before the clock starts
        started = time.perf_counter()
        for e in events:
            p.send(topic, key=e.key, value=e.value)
        p.flush()
        return time.perf_counter() - started
    finally:
        p.close()


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="carepath-bench")
    try:
        if name not in set(admin.list_topics()):
            admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def delete_topics(bootstrap: str, names: Iterable[str]) -> None:
    """Delete bench topics (the embedded broker keeps every byte until the topic is deleted)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="carepath-bench")
    try:
        existing = set(admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


def commit_at_end(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Start a new consumer group at the end of its topics, so that it reads only what comes next.

    For a shared cluster, whose topics already hold earlier runs' records. (The embedded broker answers
    end offsets wrongly, but the bench gives each of its phases a fresh one and never needs this there.)
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, client_id="carepath-bench"
    )
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in tps})
    finally:
        consumer.close()


class TopicReader:
    """Read whole topics from the beginning, without a consumer group, keeping broker timestamps."""

    def __init__(self, bootstrap: str, topics: Sequence[str], *, wait_s: float = 10.0) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            client_id="carepath-bench-reader",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            max_poll_records=5000,
        )
        tps: list[Any] = []
        for topic in topics:
            parts = self._consumer.partitions_for_topic(topic) or set()
            deadline = time.monotonic() + wait_s
            while not parts and time.monotonic() < deadline:
                time.sleep(0.1)
                parts = self._consumer.partitions_for_topic(topic) or set()
            if not parts:
                raise RuntimeError(f"topic {topic} does not exist")
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)

    def poll(self, timeout_ms: int = 100) -> list[Record]:
        out: list[Record] = []
        for tp, msgs in self._consumer.poll(timeout_ms=timeout_ms).items():
            out.extend(Record(tp.topic, m.timestamp, m.key, m.value) for m in msgs)
        return out

    def read_until(
        self, done: Callable[[list[Record]], bool], timeout_s: float, *, into: list[Record] | None = None
    ) -> list[Record]:
        """Poll until ``done(records so far)`` or the timeout; returns every record read."""
        records = into if into is not None else []
        deadline = time.monotonic() + timeout_s
        while not done(records) and time.monotonic() < deadline:
            records.extend(self.poll())
        return records

    def close(self) -> None:
        self._consumer.close()
