"""CloudEvents 1.0 envelopes on the wire: JSON via orjson, times as RFC 3339 UTC with ``Z``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON reader holds exactly (an IEEE 754 double)


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj)


def encode_for_storage(obj: Any) -> bytes:
    """Like :func:`encode`, for values kept in memory (table state): orjson's result reserves several KB
    whatever its length, so it is copied to its exact size (for 100,000 patients, ~0.8 GB against ~70 MB)."""
    return bytes(memoryview(orjson.dumps(obj)))


def decode(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def canonical_numbers(value: Any) -> Any:
    """``value`` with every whole number written as an integer, the one way carepath publishes numbers.

    JSON has one number type, so senders spell the same value ``8``, ``8.0``, ``8E0`` or ``80e-1``;
    ``-0`` and an underflow such as ``1e-400`` read as zero. A float with no fractional part within
    +/-(2**53 - 1) becomes an ``int`` (so a consumer that reads an integer field gets an integer); larger
    magnitudes stay floats: they are not exact integers in JSON, and no carepath field allows them.
    Objects and arrays are copied only when something in them changes.
    """
    if isinstance(value, dict):
        return _canonical_object(value)
    if isinstance(value, list):
        return _canonical_array(value)
    if isinstance(value, float) and value.is_integer() and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return int(value)
    return value


# Values nothing in can change: most of an event, passed over without a call (intake runs this on every
# event it admits).
_SETTLED = (str, int, bool, type(None))


def _canonical_object(value: dict[Any, Any]) -> dict[Any, Any]:
    changed: dict[Any, Any] | None = None
    for k, v in value.items():
        if type(v) in _SETTLED:
            continue
        c = canonical_numbers(v)
        if c is not v:
            if changed is None:
                changed = dict(value)
            changed[k] = c
    return value if changed is None else changed


def _canonical_array(value: list[Any]) -> list[Any]:
    changed: list[Any] | None = None
    for i, v in enumerate(value):
        if type(v) in _SETTLED:
            continue
        c = canonical_numbers(v)
        if c is not v:
            if changed is None:
                changed = list(value)
            changed[i] = c
    return value if changed is None else changed


def iso(t: datetime) -> str:
    """RFC 3339 with millisecond precision and ``Z``: the one time format carepath writes."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"time {value!r} has no timezone offset")
    return t


def cloudevent(
    *,
    id: str,
    type: str,
    source: str,
    subject: str,
    time: datetime,
    data: Mapping[str, Any],
    traceparent: str | None = None,
) -> dict[str, Any]:
    """``traceparent``: the W3C trace context of the work that made it (CloudEvents distributed-tracing
    extension), when there is one."""
    out = {
        "specversion": SPECVERSION,
        "id": id,
        "source": source,
        "type": type,
        "subject": subject,
        "time": iso(time),
        "datacontenttype": "application/json",
        "data": dict(data),
    }
    if traceparent is not None:
        out["traceparent"] = traceparent
    return out


def patient_key(event: Mapping[str, Any]) -> bytes:
    """The Kafka key of an event: its patient id (the CloudEvents ``subject``)."""
    return str(event["subject"]).encode()
