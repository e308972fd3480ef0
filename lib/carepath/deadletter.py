"""Dead-letter records (``clinical.events.dlq``): the raw input kept with the reason it was refused.

Nothing carepath cannot process is dropped silently: intake dead-letters what it rejects, and the
stream workers dead-letter a record they cannot read or evaluate, then carry on with the partition.

A dead-letter record always fits in one Kafka record. Input too large to keep whole (a refused 4 MiB body,
an oversize HL7 message) keeps its first bytes, with ``raw_length`` (the size received) and ``raw_sha256``
(its digest, so the original can be matched against the sender's copy) and ``raw_truncated: true``. Reason
and error texts are one bounded line each. A refusal therefore never fails to be stored because of the
size of what was refused, and the sender is never told to retry something that can never succeed.

Both name the system that sent the input (``sender``: the name of its credential at intake, a bounded name,
never patient data) when it is known.

Parked records (``clinical.events.parked``, ``schemas/parked-record.v1.schema.json``) keep input that was not
read whole because it carries codes carepath does not know, so that it can be read again once a site file
maps them. They keep the raw input by the same rules, and the codes as (system, code) pairs checked the way
intake checks a code before it logs one: a value that does not look like a code (it might be free text) is
counted, never copied.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from carepath import contracts, envelope

RAW_LIMIT = 256 * 1024  # bytes of raw input kept in one record, at most
RECORD_LIMIT = (
    512 * 1024
)  # encoded record, at most: half the default Kafka max.request.size / message.max.bytes
MAX_ERRORS = 50
MAX_CODES = 50  # codes listed in one record, at most
MAX_STORED = 200  # events stored from the same input listed in a parked record, at most
PARKED_SCHEMA = "parked-record.v1.schema.json"
# A code as intake logs one (intake.hl7.logsafe): 1-40 letters, digits and . _ : / * + -. A code system the
# same characters, up to 200 (FHIR systems are URIs), or empty when none was sent.
CODE = re.compile(r"^[A-Za-z0-9._:/*+-]{1,40}$")
SYSTEM = re.compile(r"^[A-Za-z0-9._:/*+-]{0,200}$")
_REASON_LIMIT = 2000
_FIELD_LIMIT = 1000
SENDER = re.compile(r"^[A-Za-z0-9._:@/-]{1,120}$")  # a sending system's name as intake stamps it


def dead_letter(
    *,
    channel: str,
    reason: str,
    errors: Iterable[tuple[str, str]],
    raw: bytes,
    received_at: datetime,
    event_id: str | None = None,
    raw_limit: int = RAW_LIMIT,
    codes: Iterable[tuple[str, str]] = (),
    sender: str = "",
) -> bytes:
    """Encode one DLQ record; ``errors`` are (JSON pointer, message) pairs, most specific first; ``codes``
    the (system, code) pairs carepath did not know, when that is why (the input is parked too), those that
    look like codes (:func:`bounded_codes`)."""
    listed = [(f, m) for f, m in errors]
    record: dict[str, Any] = {
        "reason": one_line(reason, _REASON_LIMIT) or "refused",
        "errors": [
            {"field": f if len(f) <= _FIELD_LIMIT else "", "message": one_line(m, _REASON_LIMIT) or "refused"}
            for f, m in listed[:MAX_ERRORS]
        ]
        or [{"field": "", "message": "refused"}],
        "channel": channel,
        "received_at": envelope.iso(received_at),
    }
    if len(listed) > MAX_ERRORS:
        record["errors"].append({"field": "", "message": f"and {len(listed) - MAX_ERRORS} more problems"})
    if event_id is not None:
        record["event_id"] = event_id[:200]
    known, _ = bounded_codes(codes)
    if known:
        record["codes"] = known
    if SENDER.match(sender):
        record["sender"] = sender
    return _with_raw(record, raw, raw_limit)


def parked(
    *,
    channel: str,
    reason: str,
    raw: bytes,
    received_at: datetime,
    codes: Iterable[tuple[str, str]],
    stored: Iterable[tuple[str, str]] | None = None,
    raw_limit: int = RAW_LIMIT,
    sender: str = "",
) -> bytes:
    """Encode one parked record: the raw input, a one-line ``reason``, the (system, code) pairs carepath
    did not know, and ``stored``: (event id, :func:`content_digest`) of the events read from the same input
    and stored beside it, so that a later reading can tell which of its events are new (None: not known,
    and the field is left out)."""
    listed, not_listed = bounded_codes(codes)
    record: dict[str, Any] = {
        "reason": one_line(reason, _REASON_LIMIT) or "codes carepath does not know",
        "channel": channel,
        "received_at": envelope.iso(received_at),
        "codes": listed,
    }
    if not_listed:
        record["codes_not_listed"] = not_listed
    if stored is not None:
        events = list(dict.fromkeys((i, d) for i, d in stored if 0 < len(i) <= 200))
        record["stored"] = [{"id": i, "sha256": d} for i, d in events[:MAX_STORED]]
        if len(events) > MAX_STORED:
            record["stored_not_listed"] = len(events) - MAX_STORED
    if SENDER.match(sender):
        record["sender"] = sender
    return _with_raw(record, raw, raw_limit)


def bounded_codes(codes: Iterable[tuple[str, str]]) -> tuple[list[dict[str, str]], int]:
    """The distinct (system, code) pairs that look like codes, at most MAX_CODES, as {system, code}; and how
    many distinct pairs were left out (beyond MAX_CODES, or not looking like a code: never copied)."""
    distinct = list(dict.fromkeys((str(system), str(code)) for system, code in codes))
    fit = [(s, c) for s, c in distinct if CODE.match(c) and SYSTEM.match(s)]
    listed = [{"system": s, "code": c} for s, c in fit[:MAX_CODES]]
    return listed, len(distinct) - len(listed)


def content_digest(event: dict[str, Any]) -> str:
    """SHA-256 (hex) of an event as published, without its id: the same reading of the same input gives
    the same digest whatever id it is published under."""
    return hashlib.sha256(envelope.encode({k: v for k, v in event.items() if k != "id"})).hexdigest()


def validate_parked_record(record: object) -> list[contracts.ContractError]:
    """Check a parked record against ``parked-record.v1`` (plain JSON, not a CloudEvent)."""
    if not isinstance(record, dict):
        kind = type(record).__name__
        return [contracts.ContractError("", f"a parked record must be a JSON object, not {kind}")]
    return contracts._checker(PARKED_SCHEMA).errors(record)


def _with_raw(record: dict[str, Any], raw: bytes, raw_limit: int) -> bytes:
    keep = min(len(raw), max(raw_limit, 0))
    while True:
        _put_raw(record, raw, keep)
        encoded = envelope.encode(record)
        if len(encoded) <= RECORD_LIMIT or keep == 0:
            return encoded
        keep //= 2  # text that JSON escapes (control characters) can grow up to six-fold


def _put_raw(record: dict[str, Any], raw: bytes, keep: int) -> None:
    for key in ("raw_encoding", "raw_length", "raw_sha256", "raw_truncated"):
        record.pop(key, None)
    if keep < len(raw):
        record["raw_truncated"] = True
        record["raw_length"] = len(raw)
        record["raw_sha256"] = hashlib.sha256(raw).hexdigest()
    # a cut through a multi-byte character is no reason to fall back to base64: back off up to 3 bytes
    for back in range(4 if keep < len(raw) else 1):
        try:
            record["raw"] = raw[: max(keep - back, 0)].decode("utf-8")
            return
        except UnicodeDecodeError:
            continue
    record["raw"] = base64.b64encode(raw[:keep]).decode("ascii")
    record["raw_encoding"] = "base64"


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (line breaks and other control characters as spaces), at most ``limit`` chars."""
    flat = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text[: limit * 2]).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def unprocessable(*, service: str, reason: str, detail: str, raw: bytes, at: datetime) -> bytes:
    """The DLQ record a stream worker writes for a record it could not read or evaluate."""
    return dead_letter(
        channel="stream",
        reason=f"{service} could not process this record ({reason}): {detail}",
        errors=[("", detail)],
        raw=raw,
        received_at=at,
    )
