"""``carepath.streaming.publish`` on the real broker: a worker's outputs, built into one record batch per
partition and handed to the producer together, must land exactly where a Kafka producer's partitioner
puts them, as Faust's ``topic.send`` did (the patient key's partition, which every consumer downstream
relies on), each once, in order, with the topic's headers; a key with more than one record batch holds
keeps its order across them. And ``publish`` returns only once the broker has acknowledged them: on a
frozen broker it waits."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner import murmur2

from carepath import topics
from carepath.profile import PRODUCER_BATCH_BYTES
from carepath.settings import CommonSettings
from carepath.streaming import Record, highwaters_from_fetch, make_app, publish
from carepath_tools.broker import EmbeddedBroker
from tests.conftest import BrokerInfo
from tests.support.topics import read_between

pytestmark = pytest.mark.integration

_apps = itertools.count()


def _app(broker: BrokerInfo) -> Any:
    settings = CommonSettings(
        environment="test", kafka_bootstrap_servers=broker.bootstrap, broker_profile=broker.profile
    )
    return make_app(f"test-publish-{uuid.uuid4().hex[:8]}-{next(_apps)}", settings, web_port=1)


def _ends(broker: BrokerInfo, topic: str) -> dict[int, int]:
    """Each partition's end offset as a fetch reports it (the embedded broker's ListOffsets answer can be
    short: see carepath.profile)."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TP(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        reported = {
            TP(t.topic, t.partition): o
            for t, o in consumer.end_offsets([TopicPartition(*tp) for tp in tps]).items()
        }
    finally:
        consumer.close()
    return {tp.partition: o for tp, o in highwaters_from_fetch([broker.bootstrap], tps, reported).items()}


def _read(broker: BrokerInfo, topic: str, since: dict[int, int], until: dict[int, int]) -> list[object]:
    """Every record of ``topic`` between two sets of end offsets, read directly from each partition."""
    records: list[object] = read_between(broker.bootstrap, topic, since, until)
    return records


async def _publish(app: Any, records: dict[str, list[tuple[bytes | None, bytes]]]) -> None:
    await app.producer.start()
    try:
        await publish(app, records)
    finally:
        await app.producer.stop()


def _partition_of(key: bytes, partitions: int) -> int:
    """Where a Kafka producer puts a record with this key and no partition (murmur2, as the Java client):
    kafka-python's partitioner, not the producer ``publish`` uses."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_records_land_in_their_keys_partitions_once_in_order_with_their_headers(broker: BrokerInfo) -> None:
    run = uuid.uuid4().hex[:8]
    keys = [f"pub-{run}-{i}".encode() for i in range(40)]
    # Two records per key, in order; and 300 KiB for one key, more than one record batch can hold.
    heavy = f"pub-{run}-heavy".encode()
    audit = [(key, f'{{"n":{n},"key":"{key.decode()}"}}'.encode()) for n in range(2) for key in keys]
    audit += [(heavy, b'{"n":%d,"pad":"%s"}' % (n, b"x" * 10_000)) for n in range(30)]
    dlq = [(None, f'{{"letter":"{run}-{n}"}}'.encode()) for n in range(5)]
    before = {t: _ends(broker, t) for t in (topics.AUDIT, topics.CLINICAL_EVENTS_DLQ)}
    assert sum(len(v) for _, v in audit if _ == heavy) > PRODUCER_BATCH_BYTES

    asyncio.run(_publish(_app(broker), {topics.AUDIT: audit, topics.CLINICAL_EVENTS_DLQ: dlq}))

    # on the broker once publish has returned: the end offsets taken now include every record
    after = {t: _ends(broker, t) for t in before}
    got = [
        r
        for r in _read(broker, topics.AUDIT, before[topics.AUDIT], after[topics.AUDIT])
        if r.key in {*keys, heavy}
    ]  # type: ignore[attr-defined]
    assert len(got) == len(audit)
    for key in (*keys, heavy):
        mine = [r for r in got if r.key == key]  # type: ignore[attr-defined]
        assert [r.value for r in mine] == [v for k, v in audit if k == key]  # type: ignore[attr-defined]
        assert {r.partition for r in mine} == {_partition_of(key, len(after[topics.AUDIT]))}  # type: ignore[attr-defined]
    assert len({r.partition for r in got}) > 1  # the keys are spread, as the partitioner spreads them
    assert all(list(r.headers) == topics.header_list(topics.AUDIT) for r in got)  # type: ignore[attr-defined]
    letters = _read(
        broker,
        topics.CLINICAL_EVENTS_DLQ,
        before[topics.CLINICAL_EVENTS_DLQ],
        after[topics.CLINICAL_EVENTS_DLQ],
    )
    mine_letters = sorted(r.value for r in letters if run.encode() in r.value)  # type: ignore[attr-defined]
    assert mine_letters == sorted(v for _, v in dlq)


async def _publish_while_frozen(app: Any, broker: EmbeddedBroker, records: dict[str, list[Record]]) -> float:
    """Freeze the broker (SIGSTOP: connections open, nothing answers), start ``publish``, and thaw it 1.5 s
    later; the seconds ``publish`` took. The producer has the topic's metadata before the freeze."""
    assert broker.pid is not None
    await app.producer.start()
    try:
        await publish(app, {topics.AUDIT: []})  # metadata for the topic, before the freeze
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            task = asyncio.ensure_future(publish(app, records))
            await asyncio.sleep(1.5)
            assert not task.done(), "publish returned while the broker could not have acknowledged anything"
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        await asyncio.wait_for(task, timeout=30)
        return time.monotonic() - started
    finally:
        await app.producer.stop()


def test_publish_returns_only_once_the_broker_has_acknowledged(tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    records = [(f"ack-{run}-{i}".encode(), f'{{"n":{i}}}'.encode()) for i in range(20)]
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as private:
        try:
            info = BrokerInfo(private.bootstrap, "embedded", private)
            took = asyncio.run(_publish_while_frozen(_app(info), private, {topics.AUDIT: records}))
            assert took >= 1.5
            ends = _ends(info, topics.AUDIT)
            got = [r for r in _read(info, topics.AUDIT, {}, ends) if r.key.startswith(f"ack-{run}".encode())]
            assert sorted(r.value for r in got) == sorted(v for _, v in records)
        finally:
            if private.pid is not None:
                os.kill(private.pid, signal.SIGCONT)  # never leave a stopped process behind
