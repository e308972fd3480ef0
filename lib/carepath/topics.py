"""The topic catalogue (``schemas/topics.json``): names, partitions, key and cleanup policy."""

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


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    cleanup_policy: str
    retention_ms: int
    carries: str

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
        )
        for t in raw["topics"]
    )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"topics.json lists a topic twice: {sorted(names)}")
    return specs


def partitions() -> int:
    """The partition count shared by every topic (they are co-partitioned by patient id)."""
    counts = {s.partitions for s in catalogue()}
    if len(counts) != 1:
        raise ValueError(f"topics.json: every topic must share one partition count, found {sorted(counts)}")
    return counts.pop()
