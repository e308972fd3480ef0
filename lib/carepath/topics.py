"""The topic catalogue (``schemas/topics.json``): names, partitions, key, cleanup policy and content type.

Every record carepath writes carries a ``content-type`` header (:func:`headers`): on a topic of CloudEvents
``application/cloudevents+json; charset=UTF-8``, the CloudEvents Kafka protocol binding in structured mode
(the whole event is the record's value), so CloudEvents-aware consumers recognise the records; on the dead
letter and parked topics, whose records are plain JSON documents, ``application/json; charset=UTF-8``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from carepath.resources import schemas_dir

PARTITIONS_VARIABLE = "CAREPATH_TOPIC_PARTITIONS"

CLINICAL_EVENTS = "clinical.events"
CLINICAL_EVENTS_DLQ = "clinical.events.dlq"
CLINICAL_EVENTS_PARKED = "clinical.events.parked"
ACKNOWLEDGEMENTS = "care.acknowledgements"
ESCALATIONS = "care.escalations"
ESCALATIONS_SHADOW = "care.escalations.shadow"
REMINDERS = "care.reminders"
AUDIT = "care.audit"

CONTENT_TYPE = "content-type"  # the header name the CloudEvents Kafka binding gives
CLOUDEVENTS_JSON = "application/cloudevents+json; charset=UTF-8"
PLAIN_JSON = "application/json; charset=UTF-8"
Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    cleanup_policy: str
    retention_ms: int
    carries: str
    content_type: str

    def configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


@cache
def declared() -> tuple[TopicSpec, ...]:
    """The catalogue as ``schemas/topics.json`` writes it, with the production partition count: what the
    Kubernetes topics are generated from."""
    raw = _raw()
    default_partitions = int(raw["partitions"])
    specs = tuple(
        TopicSpec(
            name=t["name"],
            partitions=int(t.get("partitions", default_partitions)),
            key=t["key"],
            cleanup_policy=t["cleanup_policy"],
            retention_ms=int(t["retention_ms"]),
            carries=t["carries"],
            content_type=t["content_type"],
        )
        for t in raw["topics"]
    )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"topics.json lists a topic twice: {sorted(names)}")
    return specs


@cache
def catalogue() -> tuple[TopicSpec, ...]:
    """The catalogue this process works with: :func:`declared`, with every topic at ``CAREPATH_TOPIC_PARTITIONS``
    partitions when that is set."""
    from carepath.settings import TopicSettings

    configured = TopicSettings().topic_partitions
    specs = declared()
    return specs if configured is None else tuple(replace(s, partitions=configured) for s in specs)


def development_partitions() -> int:
    """The partition count of a development, test or benchmark stack on one machine (topics.json)."""
    return int(_raw()["development_partitions"])


@cache
def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((schemas_dir() / "topics.json").read_text())
    return raw


@cache
def headers(topic: str) -> Headers:
    """The headers of every record written to ``topic``: its content type, from the catalogue."""
    spec = next((s for s in catalogue() if s.name == topic), None)
    if spec is None:
        raise ValueError(f"{topic!r} is not in the topic catalogue (schemas/topics.json)")
    return ((CONTENT_TYPE, spec.content_type.encode()),)


def header_list(topic: str) -> list[tuple[str, bytes]]:
    """:func:`headers` as a fresh list, the form a Faust ``send`` takes (a producer may add to it)."""
    return list(headers(topic))


def partitions() -> int:
    """The partition count shared by every topic (they are co-partitioned by patient id): ``CAREPATH_TOPIC_
    PARTITIONS`` when set, else the production default of topics.json."""
    counts = {s.partitions for s in catalogue()}
    if len(counts) != 1:
        raise ValueError(f"topics.json: every topic must share one partition count, found {sorted(counts)}")
    return counts.pop()


class PartitionCheckFailed(RuntimeError):
    """A topic carepath reads or writes has a partition count other than the configured one, or the counts
    could not be read."""


def mismatches(found: Mapping[str, int | None], expected: int) -> list[str]:
    """Each topic of ``found`` (name: its partition count on the cluster, None when it does not exist yet)
    whose count is not ``expected``, described."""
    return [
        f"{name} has {count} partitions"
        for name, count in sorted(found.items())
        if count is not None and count != expected
    ]


def verify_partitions(kafka: Mapping[str, Any], also: Iterable[str] = (), wait_s: float = 60.0) -> int:
    """Check on the cluster that every catalogue topic (and each of ``also``: a worker's changelogs) has
    :func:`partitions` partitions, so one patient's events, escalations, reminders and state share one
    partition number everywhere. ``kafka``: kafka-python's connection arguments. A topic not created yet is
    left to be created with the right count. Raises :class:`PartitionCheckFailed` naming each topic and the
    remedy, or when the cluster does not answer within ``wait_s``; returns the count."""
    expected = partitions()
    names = [s.name for s in catalogue()] + list(also)
    found = _partition_counts(kafka, names, wait_s)
    wrong = mismatches(found, expected)
    if wrong:
        raise PartitionCheckFailed(
            f"{'; '.join(wrong)}, but carepath is configured for {expected} ({PARTITIONS_VARIABLE}): topics "
            "that share the patient key must share one partition count, or one patient's records would be "
            "read on different partitions. Set the count the topics have, or move to a new topic set "
            "(README 'Partitions for growth'); never change a topic's count in place"
        )
    return expected


def _partition_counts(kafka: Mapping[str, Any], names: list[str], wait_s: float) -> dict[str, int | None]:
    import time

    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    deadline = time.monotonic() + wait_s
    while True:
        try:
            consumer = KafkaConsumer(**kafka)
            try:
                consumer.topics()  # one metadata request for the whole cluster
                return {name: _count(consumer.partitions_for_topic(name)) for name in names}
            finally:
                consumer.close()
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise PartitionCheckFailed(
                    f"could not read the topics' partition counts within {wait_s:.0f} s ({type(exc).__name__})"
                ) from None
            time.sleep(1.0)


def _count(found: set[int] | None) -> int | None:
    return len(found) if found else None
