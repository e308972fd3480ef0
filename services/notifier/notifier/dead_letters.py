"""Dead-letter records on ``care.notifications.dlq``: one per endpoint that did not take a notification
within its retry budget, with everything needed to deliver it by hand or replay it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from carepath import envelope

TOPIC = "care.notifications.dlq"


def dead_letter(
    *,
    endpoint: str,
    url: str,
    event_id: str,
    event_type: str,
    attempts: int,
    last_error: str,
    first_seen: float,
    at: float,
    event: Mapping[str, Any] | None,
) -> bytes:
    record: dict[str, Any] = {
        "endpoint": endpoint,
        "url": url,
        "event_id": event_id,
        "event_type": event_type,
        "attempts": attempts,
        "last_error": last_error,
        "first_seen": envelope.iso(datetime.fromtimestamp(first_seen, UTC)),
        "dead_lettered_at": envelope.iso(datetime.fromtimestamp(at, UTC)),
    }
    if event is not None:
        record["event"] = event
    return orjson.dumps(record)
