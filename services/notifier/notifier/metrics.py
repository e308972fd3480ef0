"""notifier metrics. Labels are endpoint names (from the endpoint file), outcomes and results: never
patient data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "carepath_notifier_deliveries",
    "Notifications finished per endpoint: delivered, dead_lettered, or duplicate (already finished before)",
    ["endpoint", "outcome"],
)
ATTEMPTS = Counter(
    "carepath_notifier_attempts",
    "HTTP delivery attempts per endpoint and result (success, http_4xx, http_5xx, timeout, connection_error, "
    "token_error: no OAuth2 token, so no request)",
    ["endpoint", "result"],
)
DELIVERY_SECONDS = Histogram(
    "carepath_notifier_delivery_seconds",
    "From the notification being read to its successful delivery, retries included",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
DEAD_LETTERS = Counter(
    "carepath_notifier_dead_letters",
    "Notifications an endpoint did not take within its retry budget (written to care.notifications.dlq)",
    ["endpoint"],
)
REDELIVERIES_IN_DOUBT = Counter(
    "carepath_notifier_redeliveries_in_doubt",
    "Notifications sent again after a restart found their last attempt in flight: the endpoint may have "
    "taken it before the worker stopped, so it may receive it twice (same idempotency key)",
    ["endpoint"],
)
TOKEN_REQUESTS = Counter(
    "carepath_notifier_token_requests",
    "OAuth2 token requests per endpoint and outcome (issued, refused, http_error, timeout, unreachable, "
    "invalid_response)",
    ["endpoint", "outcome"],
)
PENDING = Gauge(
    "carepath_notifier_pending", "Notifications waiting for delivery or a retry, per endpoint", ["endpoint"]
)


def export(endpoint: str, oauth2: bool = False) -> None:
    """Create an endpoint's series at 0, so rate() and increase() see the first event."""
    if oauth2:
        for outcome in ("issued", "refused"):
            TOKEN_REQUESTS.labels(endpoint, outcome)
    for outcome in ("delivered", "dead_lettered", "duplicate"):
        DELIVERIES.labels(endpoint, outcome)
    ATTEMPTS.labels(endpoint, "success")
    DEAD_LETTERS.labels(endpoint)
    REDELIVERIES_IN_DOUBT.labels(endpoint)
    PENDING.labels(endpoint).set(0)


STATES_MISSING = Counter(
    "carepath_notifier_states_missing",
    "Delivery outcomes a courier could not record because the table held no state for the patient "
    "(a worker letting go of its tables while stopping); nothing is written in their place",
)
