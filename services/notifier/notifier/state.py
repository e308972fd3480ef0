"""Delivery state per patient: for each notification and endpoint, the attempts made and the outcome.

This is what makes a restart safe: it lives in a changelog-backed table keyed by patient id, so a
restarted or rebalanced worker knows what was delivered (and never delivers it again) and what was
still pending (and delivers it). The notification itself is kept until every endpoint is done with it.

An attempt is recorded as *in flight* before its request is sent. A target found pending and in flight
after a restart is *in doubt*: the endpoint may have taken it before the worker died without its outcome
being recorded, so delivering it again may deliver it twice (same idempotency key, which endpoints
de-duplicate by). Those redeliveries are counted; every other pending target was certainly not taken.
Pure: no Faust, no clock (times are passed in as Unix seconds).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from carepath.envelope import encode_for_storage

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"  # the retry budget was spent; a dead-letter record was written
FINISHED = frozenset({DELIVERED, DEAD})


@dataclass
class Target:
    attempts: int = 0
    status: str = PENDING
    last_error: str = ""
    updated_at: float = 0.0
    in_flight: bool = False  # attempt ``attempts`` was started and its outcome is not recorded

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attempts": self.attempts,
            "status": self.status,
            "last_error": self.last_error,
            "at": self.updated_at,
        }
        if self.in_flight:
            out["in_flight"] = True
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Target:
        return cls(
            int(d["attempts"]),
            str(d["status"]),
            str(d.get("last_error", "")),
            float(d.get("at", 0.0)),
            bool(d.get("in_flight", False)),
        )


@dataclass
class Delivery:
    first_seen: float
    event: dict[str, Any] | None  # dropped once every endpoint is finished
    targets: dict[str, Target] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return all(t.status in FINISHED for t in self.targets.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "first_seen": self.first_seen,
            "targets": {k: t.to_dict() for k, t in self.targets.items()},
        }
        if self.event is not None:
            out["event"] = self.event
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Delivery:
        targets = {k: Target.from_dict(v) for k, v in d["targets"].items()}
        return cls(float(d["first_seen"]), d.get("event"), targets)


@dataclass(frozen=True)
class Planned:
    send: list[str]  # endpoints to deliver to now (new, or pending from before)
    already_done: list[str]  # endpoints that already have it (delivered or dead-lettered)
    changed: bool


@dataclass
class PatientDeliveries:
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    # --- (de)serialisation ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        return encode_for_storage({"deliveries": {k: v.to_dict() for k, v in self.deliveries.items()}})

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> PatientDeliveries:
        if not raw:
            return cls()
        doc = orjson.loads(raw)
        return cls({k: Delivery.from_dict(v) for k, v in doc["deliveries"].items()})

    # --- transitions ------------------------------------------------------------------------------------------
    def plan(self, event: Mapping[str, Any], endpoints: list[str], now: float) -> Planned:
        """Record a notification for ``endpoints``; a redelivered event finds its earlier state."""
        event_id = str(event["id"])
        delivery = self.deliveries.get(event_id)
        changed = False
        if delivery is None:
            delivery = self.deliveries[event_id] = Delivery(now, dict(event))
            changed = True
        send, done = [], []
        for name in endpoints:
            target = delivery.targets.get(name)
            if target is None:
                delivery.targets[name] = Target(updated_at=now)
                if delivery.event is None:
                    delivery.event = dict(event)
                changed = True
                send.append(name)
            elif target.status == PENDING:
                send.append(name)
            else:
                done.append(name)
        return Planned(send, done, changed)

    def attempting(self, event_id: str, endpoint: str, *, attempt: int, now: float) -> None:
        """Attempt number ``attempt`` is about to be sent: until its outcome is recorded, it is in flight."""
        delivery = self.deliveries.get(event_id)
        target = delivery.targets.get(endpoint) if delivery is not None else None
        if delivery is None or target is None or target.status != PENDING:
            return
        delivery.targets[endpoint] = Target(attempt, PENDING, target.last_error, now, in_flight=True)

    def record(
        self, event_id: str, endpoint: str, *, attempts: int, status: str, error: str, now: float
    ) -> None:
        delivery = self.deliveries.get(event_id)
        if delivery is None:  # pruned or never planned here: nothing to track
            return
        delivery.targets[endpoint] = Target(attempts, status, error[:500], now)
        if delivery.finished:
            delivery.event = None

    def pending(self) -> Iterator[tuple[str, str, Delivery, Target]]:
        for event_id, delivery in self.deliveries.items():
            for name, target in delivery.targets.items():
                if target.status == PENDING and delivery.event is not None:
                    yield event_id, name, delivery, target

    def prune(self, now: float, retention_s: float) -> bool:
        """Forget finished notifications older than ``retention_s`` (redeliveries stop mattering then)."""
        old = [
            k
            for k, d in self.deliveries.items()
            if d.finished
            and max((t.updated_at for t in d.targets.values()), default=d.first_seen) < now - retention_s
        ]
        for k in old:
            del self.deliveries[k]
        return bool(old)
