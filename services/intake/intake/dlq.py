"""Dead-letter records for rejected input: every rejection is kept with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carepath import topics
from carepath.contracts import ContractError
from carepath.deadletter import dead_letter
from intake import value_sets
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
    codes: Sequence[tuple[str, str]] = (),
    topic: str = topics.CLINICAL_EVENTS_DLQ,
) -> Record:
    value = dead_letter(
        channel=channel,
        reason=reason,
        errors=[(e.field, e.message) for e in errors],
        raw=raw,
        received_at=received_at,
        event_id=event_id,
        codes=codes,
    )
    return Record(topic, patient_key, value)


def parked_records(
    *,
    channel: str,
    reason: str,
    errors: Sequence[ContractError],
    raw: bytes,
    received_at: datetime,
    codes: Sequence[tuple[str, str]],
    patient_key: bytes | None = None,
) -> list[Record]:
    """Input not read whole because of codes carepath did not know: parked with the codes, so that
    ``python -m intake.parked replay`` can read it again once the site file maps them."""
    if not codes:
        return []
    return [
        dlq_record(
            channel=channel,
            reason=reason,
            errors=errors,
            raw=raw,
            received_at=received_at,
            patient_key=patient_key,
            codes=codes,
            topic=topics.CLINICAL_EVENTS_PARKED,
        )
    ]


def system_label(system: str) -> str:
    """A metric label for a code system: the short name of one carepath's terminology knows (LOINC, SNOMED
    CT, ...), else ``local``; never a value read from input."""
    term = value_sets.load()
    uri = term.system_uri(system) if system else ""
    known = term.systems.get(uri)
    return known.name if known is not None else "local"
