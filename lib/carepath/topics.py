"""The topic catalogue (``schemas/topics.json``): names, partitions, key, cleanup policy and content type.

Every record carepath writes carries a ``content-type`` header (:func:`headers`): on a topic of CloudEvents
``application/cloudevents+json; charset=UTF-8``, the CloudEvents Kafka protocol binding in structured mode
(the whole event is the record's value), so CloudEvents-aware consumers recognise the records; on the dead
letter and parked topics, whose records are plain JSON documents, ``application/json; charset=UTF-8``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from carepath.resources import schemas_dir

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
def catalogue() -> tuple[TopicSpec, ...]:
    raw = json.loads((schemas_dir() / "topics.json").read_text())
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
    """The partition count shared by every topic (they are co-partitioned by patient id)."""
    counts = {s.partitions for s in catalogue()}
    if len(counts) != 1:
        raise ValueError(f"topics.json: every topic must share one partition count, found {sorted(counts)}")
    return counts.pop()
