"""Bearer tokens between carepath's services and their callers.

Two kinds of caller reach a worker's HTTP API: people's systems (a worklist page, a clinician's client:
``CAREPATH_FOLLOWUP_READ_TOKENS``) and carepath's own services calling each other (one worker asking
another, intake checking an acknowledged id: ``CAREPATH_WORKER_TOKEN``). intake has two roles of its own:
the integration engines that send events (``CAREPATH_INTAKE_TOKENS``) and the systems that acknowledge for
clinicians (``CAREPATH_INTAKE_ACK_TOKENS``). ``/metrics`` is open unless ``CAREPATH_METRICS_TOKENS`` is set
(:func:`metrics_tokens`). Tokens are compared in constant time against every accepted token, so the
answer's timing does not say which one nearly matched. Outside development and test there is no default: a
production process without its tokens refuses to start.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

DEV_WORKER_TOKEN = "dev-only-worker-token"  # noqa: S105 - refused in production, see tokens()
DEV_READ_TOKEN = "dev-only-read-token"  # noqa: S105 - refused in production, see tokens()
DEV_INTAKE_TOKEN = "dev-only-token"  # noqa: S105 - refused in production, see tokens()
DEV_ACK_TOKEN = "dev-only-ack-token"  # noqa: S105 - refused in production, see tokens()
DEV_TOKENS = frozenset({DEV_WORKER_TOKEN, DEV_READ_TOKEN, DEV_INTAKE_TOKEN, DEV_ACK_TOKEN})
MIN_LENGTH = 24


def tokens(secret: str, environment: str, name: str, development_default: str) -> list[str]:
    """The comma-separated tokens of ``secret``; the development default outside production; in
    production a ValueError naming ``name`` when none is set or one is short or a development token."""
    listed = [t.strip() for t in secret.split(",") if t.strip()]
    if environment != "production":
        return listed or [development_default]
    if not listed:
        raise ValueError(f"{name} must be set in production (comma-separated tokens)")
    if any(len(t) < MIN_LENGTH or t in DEV_TOKENS for t in listed):
        raise ValueError(f"{name}: every production token needs at least {MIN_LENGTH} characters")
    return listed


def metrics_tokens(secret: str, environment: str) -> list[str]:
    """The tokens ``/metrics`` asks for (``CAREPATH_METRICS_TOKENS``); none, the default, leaves it open.
    In production a token that is set must be at least MIN_LENGTH characters and not a development one."""
    listed = [t.strip() for t in secret.split(",") if t.strip()]
    if environment == "production" and any(len(t) < MIN_LENGTH or t in DEV_TOKENS for t in listed):
        raise ValueError(
            f"CAREPATH_METRICS_TOKENS: every production token needs at least {MIN_LENGTH} characters"
        )
    return listed


def presented(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is none."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def admits(authorization: str | None, accepted: Sequence[str]) -> bool:
    """Whether a request with this ``Authorization`` header may read a page guarded by ``accepted``
    (an empty list: open to anyone)."""
    if not accepted:
        return True
    token = presented(authorization)
    return token is not None and matches(token, accepted)


def matches(presented: str, accepted: Sequence[str]) -> bool:
    """Whether ``presented`` is one of ``accepted``, compared with every one in constant time."""
    given = presented.encode()
    found = False
    for token in accepted:
        found |= hmac.compare_digest(given, token.encode())
    return found and bool(presented)


def bearer(token: str) -> dict[str, str]:
    """The header that presents ``token``."""
    return {"Authorization": f"Bearer {token}"}
