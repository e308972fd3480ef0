"""Signed requests a receiver can verify, and retry timing with exponential backoff and full jitter."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from notifier import signing
from notifier.backoff import backoff_s, from_status, timed_out, unreachable
from notifier.config import Retry

pytestmark = pytest.mark.unit

SECRET = b"a-shared-secret-of-at-least-32-characters"
BODY = b'{"id":"esc-1.r1"}'


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1732181400." + BODY, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, 1732181400, BODY) == f"sha256={expected}"


def test_a_receiver_verifies_a_fresh_untampered_request() -> None:
    sig = signing.signature(SECRET, 1000, BODY)
    assert signing.verify(SECRET, "1000", sig, BODY, now=1010)
    assert not signing.verify(SECRET, "1000", sig, BODY + b" ", now=1010)  # body changed
    assert not signing.verify(b"another-secret-another-secret-xx", "1000", sig, BODY, now=1010)
    assert not signing.verify(SECRET, "1001", sig, BODY, now=1010)  # timestamp changed: it is signed
    assert not signing.verify(SECRET, "1000", sig, BODY, now=1000 + 301)  # too old: a replay
    assert not signing.verify(SECRET, "soon", sig, BODY, now=1000)


def test_headers_carry_the_idempotency_key_attempt_and_signature() -> None:
    headers = signing.headers(
        secret=SECRET,
        body=BODY,
        timestamp=1000,
        event_id="esc-1.r1",
        event_type="carepath.escalation.raised.v1",
        attempt=3,
        content_type="application/cloudevents+json",
    )
    assert headers["Idempotency-Key"] == "esc-1.r1"
    assert headers["X-Carepath-Delivery-Attempt"] == "3"
    assert headers["X-Carepath-Timestamp"] == "1000"
    assert signing.verify(
        SECRET, headers["X-Carepath-Timestamp"], headers["X-Carepath-Signature"], BODY, now=1000
    )


def test_backoff_is_full_jitter_under_a_doubling_ceiling_capped() -> None:
    retry = Retry(attempts=10, base_s=1.0, cap_s=8.0)
    rng = random.Random(7)
    for failed, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        delays = [backoff_s(failed, retry, rng) for _ in range(400)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.9 and min(delays) < ceiling * 0.1  # spread over the whole range


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    retry = Retry(attempts=5, base_s=0.01, cap_s=30.0)
    rng = random.Random(1)
    assert backoff_s(1, retry, rng, retry_after_s=12) == 12
    assert backoff_s(1, retry, rng, retry_after_s=3600) == 30


@pytest.mark.parametrize(
    ("status", "delivered", "retryable", "label"),
    [
        (200, True, False, "success"),
        (202, True, False, "success"),
        (500, False, True, "http_5xx"),
        (503, False, True, "http_5xx"),
        (429, False, True, "http_4xx"),
        (408, False, True, "http_4xx"),
        (400, False, False, "http_4xx"),
        (401, False, False, "http_4xx"),
        (404, False, False, "http_4xx"),
    ],
)
def test_each_answer_is_read_as_delivered_retryable_or_refused(
    status: int, delivered: bool, retryable: bool, label: str
) -> None:
    result = from_status(status)
    assert (result.delivered, result.retryable, result.result) == (delivered, retryable, label)


def test_timeouts_and_connection_errors_are_retried() -> None:
    assert timed_out(5).retryable and timed_out(5).result == "timeout"
    failed = unreachable(ConnectionRefusedError("refused"))
    assert failed.retryable and "ConnectionRefusedError" in failed.error
    assert from_status(429, "7").retry_after_s == 7.0
