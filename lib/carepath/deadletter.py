"""Dead-letter records (``clinical.events.dlq``): the raw input kept with the reason it was refused.

Nothing carepath cannot process is dropped silently: intake dead-letters what it rejects, and the
stream workers dead-letter a record they cannot read or evaluate, then carry on with the partition.

A dead-letter record always fits in one Kafka record. Input too large to keep whole (a refused 4 MiB body,
an oversize HL7 message) keeps its first bytes, with ``raw_length`` (the size received) and ``raw_sha256``
(its digest, so the original can be matched against the sender's copy) and ``raw_truncated: true``. Reason
and error texts are one bounded line each. A refusal therefore never fails to be stored because of the
size of what was refused, and the sender is never told to retry something that can never succeed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from carepath import envelope

RAW_LIMIT = 256 * 1024  # bytes of raw input kept in one record, at most
RECORD_LIMIT = (
    512 * 1024
)  # encoded record, at most: half the default Kafka max.request.size / message.max.bytes
MAX_ERRORS = 50
MAX_CODES = 50
_SYSTEM_LIMIT = 300
_CODE_LIMIT = 100
_REASON_LIMIT = 2000
_FIELD_LIMIT = 1000


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
) -> bytes:
    """Encode one DLQ record; ``errors`` are (JSON pointer, message) pairs, most specific first; ``codes``
    the (system, code) pairs carepath did not know, when that is why (a parked record)."""
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
    unknown = list(dict.fromkeys((s[:_SYSTEM_LIMIT], c[:_CODE_LIMIT]) for s, c in codes))
    if unknown:
        record["codes"] = [{"system": s, "code": c} for s, c in unknown[:MAX_CODES]]
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
