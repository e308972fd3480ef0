"""Bearer tokens between carepath's services and their callers.

Two kinds of caller reach a worker's HTTP API: people's systems (a worklist page, a clinician's client:
``CAREPATH_FOLLOWUP_READ_TOKENS``) and carepath's own services calling each other (one worker asking
another, intake checking an acknowledged id: ``CAREPATH_WORKER_TOKEN``). Tokens are compared in constant
time against every accepted token, so the answer's timing does not say which one nearly matched. Outside
development and test there is no default: a production process without its tokens refuses to start.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

DEV_WORKER_TOKEN = "dev-only-worker-token"  # noqa: S105 - refused in production, see tokens()
DEV_READ_TOKEN = "dev-only-read-token"  # noqa: S105 - refused in production, see tokens()
MIN_LENGTH = 24


def tokens(secret: str, environment: str, name: str, development_default: str) -> list[str]:
    """The comma-separated tokens of ``secret``; the development default outside production; in
    production a ValueError naming ``name`` when none is set or one is short or a development token."""
    listed = [t.strip() for t in secret.split(",") if t.strip()]
    if environment != "production":
        return listed or [development_default]
    if not listed:
        raise ValueError(f"{name} must be set in production (comma-separated tokens)")
    if any(len(t) < MIN_LENGTH or t in (DEV_WORKER_TOKEN, DEV_READ_TOKEN) for t in listed):
        raise ValueError(f"{name}: every production token needs at least {MIN_LENGTH} characters")
    return listed


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
