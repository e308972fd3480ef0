"""Signed requests: HMAC-SHA256 over the timestamp and the body, so a receiver can check both.

    X-Carepath-Timestamp: 1732181400
    X-Carepath-Signature: sha256=<hex of HMAC-SHA256(secret, "1732181400." + body)>

The timestamp is part of what is signed, so a captured request cannot be replayed later with a fresh
timestamp; receivers reject timestamps outside a window (five minutes is usual) and compare the
signature in constant time (:func:`verify` does both).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Carepath-Signature"
TIMESTAMP_HEADER = "X-Carepath-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-Carepath-Delivery-Attempt"
EVENT_TYPE_HEADER = "X-Carepath-Event-Type"
SCHEME = "sha256="


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def verify(
    secret: bytes, timestamp: str, presented: str, body: bytes, now: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does: a recent timestamp and a matching signature."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), presented)


def headers(
    *,
    secret: bytes,
    body: bytes,
    timestamp: int,
    event_id: str,
    event_type: str,
    attempt: int,
    content_type: str,
) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        IDEMPOTENCY_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        ATTEMPT_HEADER: str(attempt),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
