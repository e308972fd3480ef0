"""CloudEvents 1.0 envelopes on the wire: JSON via orjson, times as RFC 3339 UTC with ``Z``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj)


def encode_for_storage(obj: Any) -> bytes:
    """Like :func:`encode`, for values kept in memory (table state): orjson's result reserves several KB
    whatever its length, so it is copied to its exact size (for 100,000 patients, ~0.8 GB against ~70 MB)."""
    return bytes(memoryview(orjson.dumps(obj)))


def decode(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def iso(t: datetime) -> str:
    """RFC 3339 with millisecond precision and ``Z``: the one time format carepath writes."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"time {value!r} has no timezone offset")
    return t


def cloudevent(
    *, id: str, type: str, source: str, subject: str, time: datetime, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "specversion": SPECVERSION,
        "id": id,
        "source": source,
        "type": type,
        "subject": subject,
        "time": iso(time),
        "datacontenttype": "application/json",
        "data": dict(data),
    }


def patient_key(event: Mapping[str, Any]) -> bytes:
    """The Kafka key of an event: its patient id (the CloudEvents ``subject``)."""
    return str(event["subject"]).encode()
