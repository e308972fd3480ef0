"""Dead-letter records (``clinical.events.dlq``): the raw input kept with the reason it was refused.

Nothing carepath cannot process is dropped silently: intake dead-letters what it rejects, and the
stream workers dead-letter a record they cannot read or evaluate, then carry on with the partition.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from carepath import envelope


def dead_letter(
    *,
    channel: str,
    reason: str,
    errors: Iterable[tuple[str, str]],
    raw: bytes,
    received_at: datetime,
    event_id: str | None = None,
) -> bytes:
    """Encode one DLQ record; ``errors`` are (JSON pointer, message) pairs, most specific first."""
    record: dict[str, Any] = {
        "reason": reason,
        "errors": [{"field": f, "message": m} for f, m in errors],
        "channel": channel,
        "received_at": envelope.iso(received_at),
    }
    if event_id is not None:
        record["event_id"] = event_id
    try:
        record["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        record["raw"] = base64.b64encode(raw).decode("ascii")
        record["raw_encoding"] = "base64"
    return envelope.encode(record)


def unprocessable(*, service: str, reason: str, detail: str, raw: bytes, at: datetime) -> bytes:
    """The DLQ record a stream worker writes for a record it could not read or evaluate."""
    return dead_letter(
        channel="stream",
        reason=f"{service} could not process this record ({reason}): {detail}"[:2000],
        errors=[("", detail[:2000])],
        raw=raw,
        received_at=at,
    )
