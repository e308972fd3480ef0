"""Dead-letter records for rejected input: every rejection is kept with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carepath import topics
from carepath.contracts import ContractError
from carepath.deadletter import dead_letter
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
    value = dead_letter(
        channel=channel,
        reason=reason,
        errors=[(e.field, e.message) for e in errors],
        raw=raw,
        received_at=received_at,
        event_id=event_id,
    )
    return Record(topics.CLINICAL_EVENTS_DLQ, patient_key, value)
