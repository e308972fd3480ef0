"""Dead-letter records: every rejected input is kept with the reason, so nothing is silently dropped."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime

from carepath import envelope, topics
from carepath.contracts import ContractError
from intake.publisher import Record


def dlq_record(
    *,
    channel: str,
    reason: str,
    errors: Sequence[ContractError],
    raw: bytes,
    received_at: datetime,
    event_id: str | None = None,
    patient_key: bytes | None = None,
) -> Record:
    record: dict[str, object] = {
        "reason": reason,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
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
    return Record(topics.CLINICAL_EVENTS_DLQ, patient_key, envelope.encode(record))
