"""Phase 2: the raw broker ceiling with plain clients and the bench's own encoded events.

kafka-python produces them (acks=all, keyed by patient) to a fresh 4-partition topic; kafka-python and
aiokafka (the client under the Faust workers) read them back; aiokafka also produces them. Any stage that
consumes and produces every message can at best do both one after the other, hence the combined rates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from carepath_tools.bench import kafka_io
from carepath_tools.bench.context import Context
from carepath_tools.bench.stacks import phase_stack
from carepath_tools.bench.stats import combined_rate, rate
from carepath_tools.bench.workload import Event

PARTITIONS = 4
TOPIC = "bench.raw"
AIO_TOPIC = "bench.raw.aiokafka"


def run(ctx: Context) -> dict[str, Any]:
    events = ctx.workload.events[: ctx.params.raw_events]
    n = len(events)
    ctx.say(f"{n:,} events of {sum(len(e.value) for e in events) / n:.0f} bytes on average, 4 partitions")
    with phase_stack(ctx, "raw") as stack:
        assert stack.bootstrap
        bootstrap = stack.bootstrap
        topic, aio_topic = f"{TOPIC}.{ctx.tag}", f"{AIO_TOPIC}.{ctx.tag}"
        kafka_io.create_topic(bootstrap, topic, PARTITIONS)
        kafka_io.create_topic(bootstrap, aio_topic, PARTITIONS)
        try:
            produce_s = kafka_io.produce(bootstrap, topic, events)
            kp_produce = rate(n, produce_s)
            ctx.say(f"kafka-python produce (acks=all): {kp_produce:,.0f} msg/s")
            kp_consume = rate(n, _consume_kafka_python(bootstrap, topic, n))
            ctx.say(f"kafka-python consume: {kp_consume:,.0f} msg/s")
            aio_consume = rate(n, asyncio.run(_consume_aiokafka(bootstrap, topic, n)))
            ctx.say(f"aiokafka consume: {aio_consume:,.0f} msg/s")
            aio_produce = rate(n, asyncio.run(_produce_aiokafka(bootstrap, aio_topic, events)))
            ctx.say(f"aiokafka produce (acks=all): {aio_produce:,.0f} msg/s")
        finally:
            if ctx.external:  # an embedded broker goes with everything on it
                kafka_io.delete_topics(bootstrap, [topic, aio_topic])
    kp_both = combined_rate(kp_produce, kp_consume)
    aio_both = combined_rate(aio_produce, aio_consume)
    ctx.say(f"produce+consume: kafka-python {kp_both:,.0f} msg/s, aiokafka {aio_both:,.0f} msg/s")
    return {
        "messages": n,
        "mean_message_bytes": round(sum(len(e.value) for e in events) / n, 1),
        "partitions": PARTITIONS,
        "kafka_python_produce_per_s": round(kp_produce),
        "kafka_python_consume_per_s": round(kp_consume),
        "aiokafka_produce_per_s": round(aio_produce),
        "aiokafka_consume_per_s": round(aio_consume),
        "kafka_python_produce_consume_per_s": round(kp_both),
        "aiokafka_produce_consume_per_s": round(aio_both),
        "ceiling_per_s": round(max(kp_both, aio_both)),
    }


def _consume_kafka_python(bootstrap: str, topic: str, expected: int) -> float:
    reader = kafka_io.TopicReader(bootstrap, [topic])
    try:
        got = 0
        started = time.perf_counter()
        deadline = time.monotonic() + 120
        while got < expected and time.monotonic() < deadline:
            got += len(reader.poll())
        if got < expected:
            raise RuntimeError(f"kafka-python read {got} of {expected} records back")
        return time.perf_counter() - started
    finally:
        reader.close()


async def _consume_aiokafka(bootstrap: str, topic: str, expected: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        client_id="carepath-bench",
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got = 0
        started = time.perf_counter()
        deadline = time.monotonic() + 120
        while got < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            got += sum(len(msgs) for msgs in batches.values())
        if got < expected:
            raise RuntimeError(f"aiokafka read {got} of {expected} records back")
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def _produce_aiokafka(bootstrap: str, topic: str, events: Sequence[Event]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=kafka_io.LINGER_MS,
        max_batch_size=kafka_io.BATCH_BYTES,
        client_id="carepath-bench",
    )
    await producer.start()
    try:
        await producer.partitions_for(topic)
        started = time.perf_counter()
        futures = [await producer.send(topic, value=e.value, key=e.key) for e in events]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()
