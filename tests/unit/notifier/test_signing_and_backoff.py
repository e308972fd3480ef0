"""Signed requests a Standard Webhooks verifier accepts, and retry timing with exponential backoff and full jitter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from notifier import signing
from notifier.backoff import backoff_s, from_status, timed_out, unreachable
from notifier.config import Retry

pytestmark = pytest.mark.unit

SECRET = b"a-shared-secret-of-at-least-32-characters"
BODY = b'{"id":"esc-1.r1"}'


def test_the_signature_is_the_specifications_known_answer() -> None:
    """The example in the Standard Webhooks reference libraries' documentation."""
    key = signing.key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert (
        signing.signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_standard_webhooks_verifier_accepts_a_fresh_untampered_request() -> None:
    now = int(time.time())
    headers = signing.headers(
        key=SECRET,
        body=BODY,
        timestamp=now,
        event_id="esc-1.r1",
        event_type="carepath.escalation.raised.v1",
        attempt=3,
        content_type="application/cloudevents+json",
    )
    verifier = Webhook(SECRET)
    assert verifier.verify(BODY, headers) == {"id": "esc-1.r1"}
    assert headers["webhook-id"] == headers["Idempotency-Key"] == "esc-1.r1"
    assert headers["X-Carepath-Delivery-Attempt"] == "3" and headers["webhook-timestamp"] == str(now)
    assert "X-Carepath-Signature" not in headers  # only when an endpoint asks for it
    refused = [
        (BODY + b" ", headers),  # body changed
        (BODY, {**headers, "webhook-id": "esc-1.r2"}),  # the id is signed
        (BODY, {**headers, "webhook-timestamp": str(now + 1)}),  # the timestamp is signed
    ]
    for body, changed in refused:
        with pytest.raises(WebhookVerificationError):
            verifier.verify(body, changed)
    with pytest.raises(WebhookVerificationError):
        Webhook(b"another-secret-another-secret-xx").verify(BODY, headers)
    stale = signing.headers(
        key=SECRET,
        body=BODY,
        timestamp=now - 301,
        event_id="esc-1.r1",
        event_type="carepath.escalation.raised.v1",
        attempt=1,
        content_type="application/cloudevents+json",
    )
    with pytest.raises(WebhookVerificationError, match="too old"):  # a replay
        verifier.verify(BODY, stale)


def test_a_whsec_secret_verifies_as_the_receiver_is_given_it() -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(24))).decode()
    headers = signing.headers(
        key=signing.key(secret),
        body=BODY,
        timestamp=int(time.time()),
        event_id="rem-1",
        event_type="carepath.reminder.due.v1",
        attempt=1,
        content_type="application/cloudevents+json",
    )
    assert Webhook(secret).verify(BODY, headers) == {"id": "esc-1.r1"}


def test_while_a_secret_is_rotated_a_receiver_holding_either_verifies() -> None:
    old, new = (
        "whsec_" + base64.b64encode(b"o" * 32).decode(),
        "whsec_" + base64.b64encode(b"n" * 32).decode(),
    )
    headers = signing.headers(
        key=signing.key(new),
        previous_key=signing.key(old),
        body=BODY,
        timestamp=int(time.time()),
        event_id="esc-1.r1",
        event_type="carepath.escalation.raised.v1",
        attempt=1,
        content_type="application/cloudevents+json",
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers) == Webhook(new).verify(BODY, headers) == {"id": "esc-1.r1"}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(BODY, headers)


def test_legacy_headers_when_asked_are_hmac_sha256_over_timestamp_dot_body() -> None:
    headers = signing.headers(
        key=SECRET,
        body=BODY,
        timestamp=1732181400,
        event_id="esc-1.r1",
        event_type="carepath.escalation.raised.v1",
        attempt=1,
        content_type="application/cloudevents+json",
        legacy=True,
    )
    expected = hmac.new(SECRET, b"1732181400." + BODY, hashlib.sha256).hexdigest()
    assert headers["X-Carepath-Timestamp"] == headers["webhook-timestamp"] == "1732181400"
    assert headers["X-Carepath-Signature"] == f"sha256={expected}"
    assert headers["webhook-signature"] == signing.signature(SECRET, "esc-1.r1", 1732181400, BODY)


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
