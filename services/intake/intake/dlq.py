"""Dead-letter records for rejected input (every rejection is kept with the reason), and parked records for
input not read whole because of codes carepath does not know."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from carepath import topics
from carepath.contracts import ContractError
from carepath.deadletter import dead_letter, parked
from intake import value_sets
from intake.publisher import Record

LOCAL = "local"  # the metric label of a code system carepath's value sets do not name


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
    sender: str = "",
) -> Record:
    value = dead_letter(
        channel=channel,
        reason=reason,
        errors=[(e.field, e.message) for e in errors],
        raw=raw,
        received_at=received_at,
        event_id=event_id,
        codes=codes,
        sender=sender,
    )
    return Record(topics.CLINICAL_EVENTS_DLQ, patient_key, value)


def parked_record(
    *,
    channel: str,
    reason: str,
    raw: bytes,
    received_at: datetime,
    codes: Sequence[tuple[str, str]],
    stored: Iterable[tuple[str, str]] | None = None,
    patient_key: bytes | None = None,
    sender: str = "",
) -> Record:
    """Input not read whole because of ``codes`` carepath did not know, for ``clinical.events.parked``:
    ``python -m intake.parked replay`` reads it again once the site file maps them. ``stored``: (id,
    content digest) of the events read from the same input and stored beside it (None: not known)."""
    value = parked(
        channel=channel,
        reason=reason,
        raw=raw,
        received_at=received_at,
        codes=codes,
        stored=stored,
        sender=sender,
    )
    return Record(topics.CLINICAL_EVENTS_PARKED, patient_key, value)


def system_label(system: str) -> str:
    """A metric label for a code system: the short name carepath's own value sets give it (LOINC, SNOMED
    CT, ...; any alias a sender uses: LN, SCT, an OID), else ``local`` - a hospital's own code system, even
    one a site file names. Never a value read from input, so the label's values are few and known."""
    term = value_sets.load()
    known = term.systems.get(term.system_uri(system)) if system else None
    return known.name if known is not None else LOCAL


def system_labels(codes: Iterable[tuple[str, str]]) -> list[str]:
    """The distinct :func:`system_label` s of ``codes``, in the order first seen."""
    return list(dict.fromkeys(system_label(system) for system, _ in codes))
