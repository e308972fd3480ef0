"""Bearer tokens between carepath's services and their callers.

Two kinds of caller reach a worker's HTTP API: people's systems (a worklist page, a clinician's client:
``CAREPATH_FOLLOWUP_READ_TOKENS``) and carepath's own services calling each other (one worker asking
another, intake checking an acknowledged id: ``CAREPATH_WORKER_TOKEN``). intake has two roles of its own:
the integration engines that send events (``CAREPATH_INTAKE_TOKENS``) and the systems that acknowledge for
clinicians (``CAREPATH_INTAKE_ACK_TOKENS``). ``/metrics`` is open unless ``CAREPATH_METRICS_TOKENS`` is set
(:func:`metrics_tokens`). Tokens are compared in constant time against every accepted token, so the
answer's timing does not say which one nearly matched. Outside development and test there is no default: a
production process without its tokens refuses to start.

intake's two lists name each system (:func:`named_tokens`): an entry ``name:token`` gives the system holding
that token its name, which intake stamps on everything it publishes for it, so the record says which engine
or which clinician system sent what. An entry without a name is named by its position.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

DEV_WORKER_TOKEN = "dev-only-worker-token"  # noqa: S105 - refused in production, see tokens()
DEV_READ_TOKEN = "dev-only-read-token"  # noqa: S105 - refused in production, see tokens()
DEV_INTAKE_TOKEN = "dev-only-token"  # noqa: S105 - refused in production, see tokens()
DEV_ACK_TOKEN = "dev-only-ack-token"  # noqa: S105 - refused in production, see tokens()
DEV_TOKENS = frozenset({DEV_WORKER_TOKEN, DEV_READ_TOKEN, DEV_INTAKE_TOKEN, DEV_ACK_TOKEN})
MIN_LENGTH = 24
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")  # a sending system's name: not patient data, bounded


@dataclass(frozen=True)
class NamedToken:
    """One system's credential: its name (stamped on what it sends) and its token (never shown)."""

    name: str
    token: str = field(repr=False)


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


def named_tokens(
    secret: str, environment: str, variable: str, development_default: str, unnamed: str
) -> list[NamedToken]:
    """The comma-separated entries of ``secret``, each ``name:token`` or a bare ``token``.

    A name is 1-40 lower-case letters, digits and ``-``, starting with a letter (``mirth-north``); a bare
    token is named ``<unnamed>-<position>`` (``engine-2``: the second entry), so naming every entry keeps
    the names stable when the list changes. An entry whose part before the first ``:`` is not a name is a
    bare token (a token holding a ``:`` must be given a name). The tokens are checked as :func:`tokens`
    checks them; two entries with the same name are refused (the records could not tell them apart)."""
    entries = [e.strip() for e in secret.split(",") if e.strip()]
    found: list[NamedToken] = []
    for position, entry in enumerate(entries, start=1):
        head, sep, rest = entry.partition(":")
        if sep and SYSTEM_NAME.match(head) and rest.strip():
            found.append(NamedToken(head, rest.strip()))
        else:
            found.append(NamedToken(f"{unnamed}-{position}", entry))
    checked = tokens(",".join(t.token for t in found), environment, variable, development_default)
    if not found:  # outside production: the development default
        return [NamedToken(f"{unnamed}-1", checked[0])]
    names = [t.name for t in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            f"{variable}: the name {twice[0]!r} is given to two tokens; give each system its own"
        )
    return found


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


def holder(presented: str, accepted: Sequence[NamedToken]) -> str | None:
    """The name of the credential ``presented`` is, compared with every one in constant time; None when it
    is none of them."""
    given = presented.encode()
    found: str | None = None
    for credential in accepted:
        if hmac.compare_digest(given, credential.token.encode()) and found is None:
            found = credential.name
    return found if presented else None


def bearer(token: str) -> dict[str, str]:
    """The header that presents ``token``."""
    return {"Authorization": f"Bearer {token}"}
