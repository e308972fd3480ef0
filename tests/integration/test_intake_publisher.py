"""intake's publisher (aiokafka on intake's event loop) on the real broker: a publish returns only once
every record is stored, each on its patient's partition as a Kafka producer's partitioner puts it (every
consumer downstream relies on that), once, in order, with its headers; a broker that does not answer is
a :class:`PublishError` within the publish bound, never a hang; the producer started lazily is started
again by the next publish once the broker answers."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner import murmur2

from carepath import topics
from carepath.profile import profile
from carepath.settings import CommonSettings
from carepath_tools.broker import EmbeddedBroker, free_port
from intake.publisher import KafkaPublisher, PublishError, Record
from tests.conftest import BrokerInfo
from tests.support.topics import read_between

pytestmark = pytest.mark.integration


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end as a fetch reports it (the high-watermark: right on every broker)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        ends: dict[int, int] = {}
        deadline = time.monotonic() + 20
        while len(ends) < len(tps):
            assert time.monotonic() < deadline, "no high-watermark for every partition"
            consumer.poll(timeout_ms=100, max_records=1)
            for tp in tps:
                high = consumer.highwater(tp)
                if high is not None:
                    ends[tp.partition] = high
        return ends
    finally:
        consumer.close()


def _publisher(bootstrap: str, profile_name: str, timeout_s: float = 10.0) -> KafkaPublisher:
    settings = CommonSettings(
        environment="test", kafka_bootstrap_servers=bootstrap, broker_profile=profile_name
    )
    return KafkaPublisher([bootstrap], profile(profile_name), timeout_s, settings)


def test_a_publish_returns_with_every_record_stored_on_its_patients_partition_in_order(
    broker: BrokerInfo,
) -> None:
    topic = topics.CLINICAL_EVENTS
    before = _ends(broker.bootstrap, topic)
    patients = [f"pub-{time.time_ns()}-{i}".encode() for i in range(40)]
    batches = [
        [Record(topic, patients[(b * 7 + i) % len(patients)], b"%d:%d" % (b, i)) for i in range(250)]
        for b in range(4)
    ]

    async def run() -> dict[int, int]:
        publisher = _publisher(broker.bootstrap, broker.profile)
        try:
            ends: dict[int, int] = {}
            for batch in batches:
                await publisher.publish(batch)
                ends = _ends(broker.bootstrap, topic)  # stored when publish returned: readable now
            return ends
        finally:
            await publisher.close()

    after = asyncio.run(run())
    assert sum(after.values()) - sum(before.get(p, 0) for p in after) >= 1000
    ours = {p for p in patients}
    read = [r for r in read_between(broker.bootstrap, topic, before, after) if r.key in ours]
    assert len(read) == 1000  # each once
    per_key: dict[bytes, list[bytes]] = defaultdict(list)
    for r in read:
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % len(after)
        assert list(r.headers) == list(topics.headers(topic))
        per_key[r.key].append(r.value)
    sent: dict[bytes, list[bytes]] = defaultdict(list)
    for batch in batches:
        for rec in batch:
            assert rec.key is not None
            sent[rec.key].append(rec.value)
    assert per_key == sent  # in the order published, patient by patient


def test_no_broker_is_a_publish_error_in_bound_then_the_next_publish_starts_the_producer(
    tmp_path: Path,
) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    record = Record(topics.CLINICAL_EVENTS, b"pub-later", b"{}")

    async def run() -> None:
        publisher = _publisher(bootstrap, "embedded", timeout_s=1.0)
        try:
            started = time.monotonic()
            with pytest.raises(PublishError):
                await publisher.publish([record])
            assert time.monotonic() - started < 1.0 * 2 + 5 + 5  # the publish bound, with room
            with EmbeddedBroker(port=port, log_path=tmp_path / "broker.log"):
                deadline = time.monotonic() + 30
                while True:  # the broker's topics may take a moment to be served
                    try:
                        await publisher.publish([record])
                        break
                    except PublishError:
                        assert time.monotonic() < deadline, "never published once the broker answered"
                        await asyncio.sleep(0.5)
                ends = _ends(bootstrap, topics.CLINICAL_EVENTS)
                assert sum(ends.values()) >= 1
                await publisher.close()
        finally:
            await publisher.close()

    asyncio.run(run())
