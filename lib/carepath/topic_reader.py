"""Read a whole topic once, from its beginning to the end it has when reading starts (operator tools:
the parked-input report and replay, the pathway timeliness audit)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def read_topic(
    bootstrap: Sequence[str],
    topic: str,
    *,
    timeout_s: float = 120.0,
    progress: TextIO = sys.stderr,
    security: Mapping[str, Any] | None = None,
) -> list[bytes]:
    """Every record of ``topic`` from its beginning to the end it has now; TimeoutError when that end is
    not reached within ``timeout_s``. ``security``: TLS/SASL arguments
    (:func:`carepath.kafka_security.kafka_python_kwargs`)."""
    from kafka import KafkaConsumer, TopicPartition

    deadline = time.monotonic() + timeout_s
    consumer = KafkaConsumer(
        bootstrap_servers=list(bootstrap),
        client_id="carepath-topic-reader",
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        bootstrap_timeout_ms=int(min(max(timeout_s, 1), 30) * 1000),
        **(security or {}),
    )
    try:
        found = consumer.partitions_for_topic(topic)
        if not found:
            print(f"{topic} does not exist (yet): nothing to read", file=progress, flush=True)
            return []
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        # The end of each partition is the high-watermark of its first fetch: right on Kafka and on the
        # embedded broker, whose ListOffsets answer (end_offsets) can be short (carepath/profile.py).
        ends: dict[TopicPartition, int] = {}
        print(f"reading {topic}", file=progress, flush=True)
        values: list[bytes] = []
        reported = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}: {len(values)} records read in {timeout_s:.0f} s and not at its end; "
                    "give more time with --timeout"
                )
            for tp, messages in consumer.poll(timeout_ms=200).items():
                end = ends.get(tp)
                values += [
                    m.value for m in messages if (end is None or m.offset < end) and m.value is not None
                ]
            for tp in partitions:
                if tp not in ends and (high := consumer.highwater(tp)) is not None:
                    ends[tp] = high
            if len(ends) == len(partitions) and all(consumer.position(tp) >= ends[tp] for tp in partitions):
                return values
            if len(values) - reported >= 1000:
                reported = len(values)
                print(f"read {reported}", file=progress, flush=True)
    finally:
        consumer.close()


def read_topic_or_say(
    prog: str,
    bootstrap: Sequence[str],
    topic: str,
    *,
    timeout_s: float,
    security: Mapping[str, Any] | None = None,
) -> list[bytes] | None:
    """:func:`read_topic` for a command: None, after saying why on stderr as ``prog``, when the topic could
    not be read to its end in time or the broker did not answer."""
    try:
        return read_topic(bootstrap, topic, timeout_s=timeout_s, security=security)
    except TimeoutError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    except Exception as exc:  # NoBrokersAvailable, KafkaTimeoutError: the broker did not answer
        print(
            f"{prog}: cannot read {topic} from {','.join(bootstrap)}: {type(exc).__name__}", file=sys.stderr
        )
    return None
