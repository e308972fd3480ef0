"""FastAPI dependencies: the wired service, who is calling, bounded request bodies.

intake has three kinds of caller. The integration engines send events: ``POST /v1/events`` and every
``/fhir`` route (``CAREPATH_INTAKE_TOKENS``); the FHIR Communication and Task resources that record care
steps and acknowledgements arrive that way. ``POST /v1/acknowledgements`` takes a clinician's own token (a
JWT from the hospital's identity provider, checked when ``CAREPATH_INTAKE_OIDC_ISSUER`` is set: the
clinician is who it names) or the token of a system acknowledging for a clinician it names
(``CAREPATH_INTAKE_ACK_TOKENS``). ``GET /fhir/metadata`` answers an engine or an acknowledging system.

Every system credential has a name (``name:token``, else by position): a request is served by
``intake.sent_by(caller.sender)``, so everything it publishes says which system sent it. A clinician's token
is named ``idp:<client>`` after the client it was issued to (``client_id``, else ``azp``).

No token or an unknown one is 401 (with ``WWW-Authenticate: Bearer``), a known token of another role 403;
each refusal is counted by reason in ``carepath_intake_api_rejected_total{reason}`` (missing, invalid,
forbidden) and, as before, under ``carepath_intake_events_rejected_total{reason="unauthorized"}``; a
clinician's token refused also under ``carepath_intake_clinician_tokens_refused_total{reason}``. The probes
and ``/metrics`` are not guarded here (``/metrics`` by CAREPATH_METRICS_TOKENS, see
:mod:`intake.routes.health`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carepath import auth, logs
from carepath.clinician_tokens import Clinician, KeysUnavailable, TokenRefused, Verifier, looks_like_jwt
from intake import metrics
from intake.service import Intake
from intake.settings import IntakeSettings

ENGINE = "engine"  # an integration engine: CAREPATH_INTAKE_TOKENS
ACK_SYSTEM = "ack_system"  # a system acknowledging for a clinician it names: CAREPATH_INTAKE_ACK_TOKENS
CLINICIAN = "clinician"  # a clinician's own token, checked against the identity provider's keys
IDP_SENDER = "idp"  # the sender of a clinician's token: idp:<client>, or idp when it names no client

_log = logs.get("intake.auth")
_bearer = HTTPBearer(
    auto_error=False,
    description="An integration engine's token (CAREPATH_INTAKE_TOKENS) for events and FHIR. For "
    "acknowledgements, a clinician's own access token from the hospital's identity provider (a JWT whose aud "
    "is CAREPATH_INTAKE_OIDC_AUDIENCE), or the token of a system acknowledging for a clinician it names "
    "(CAREPATH_INTAKE_ACK_TOKENS, with on_behalf_of)",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Caller:
    """Who is calling: the role of their credential, the name stamped on what they send, and, for a
    clinician's own token, who it names."""

    role: str  # ENGINE, ACK_SYSTEM or CLINICIAN
    sender: str
    clinician: Clinician | None = None


# Dependencies are coroutines although none of them waits: FastAPI runs a plain function dependency in
# its thread pool, a thread hop for each, on every request.
async def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def get_settings(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.app.state.settings
    return settings


async def get_verifier(request: Request) -> Verifier | None:
    verifier: Verifier | None = request.app.state.verifier
    return verifier


IntakeDep = Annotated[Intake, Depends(get_intake)]
SettingsDep = Annotated[IntakeSettings, Depends(get_settings)]
VerifierDep = Annotated[Verifier | None, Depends(get_verifier)]


def _refused(reason: str, channel: str, detail: str | None = None) -> HTTPException:
    """The refusal for ``reason`` (missing, invalid, forbidden), counted."""
    metrics.API_REJECTED.labels(reason).inc()
    metrics.REJECTED.labels(channel, "unauthorized").inc()
    if reason == "forbidden":
        return HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=detail or "this token's role may not call this route",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )
    challenge = 'Bearer error="invalid_token"' if detail else "Bearer"
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=detail or "missing or invalid bearer token",
        headers={"WWW-Authenticate": challenge},
    )


def _held(settings: IntakeSettings, token: str) -> dict[str, str]:
    """The roles (and names) of the system credentials ``token`` is. Both lists are compared in full, in
    constant time: the timing says neither which nor whose."""
    return {
        role: name
        for role, accepted in ((ENGINE, settings.engine_credentials), (ACK_SYSTEM, settings.ack_credentials))
        if (name := auth.holder(token, accepted)) is not None
    }


def system_caller(
    settings: IntakeSettings,
    credentials: HTTPAuthorizationCredentials | None,
    roles: frozenset[str],
    channel: str = "http",
) -> Caller | HTTPException:
    """The caller when ``credentials`` hold a system token of one of ``roles``; else the refusal (401 or
    403), counted."""
    token = credentials.credentials if credentials else ""
    if not token:
        return _refused("missing", channel)
    held = _held(settings, token)
    for role in (ENGINE, ACK_SYSTEM):
        if role in held and role in roles:
            return Caller(role, held[role])
    return _refused("forbidden" if held else "invalid", channel)


def _role(
    *roles: str,
) -> Callable[[IntakeSettings, HTTPAuthorizationCredentials | None], Awaitable[Caller]]:
    allowed = frozenset(roles)

    async def check(settings: SettingsDep, credentials: Credentials) -> Caller:
        found = system_caller(settings, credentials, allowed)
        if isinstance(found, HTTPException):
            raise found
        return found

    return check


async def acknowledger(settings: SettingsDep, verifier: VerifierDep, credentials: Credentials) -> Caller:
    """``POST /v1/acknowledgements``: a system acknowledging for a clinician it names, or a clinician's own
    token, checked against the identity provider's keys (when an issuer is configured). An engine's token
    is 403; a clinician's token that does not pass is 401 saying why; keys that cannot be read, 503."""
    token = credentials.credentials if credentials else ""
    if not token:
        raise _refused("missing", "http")
    held = _held(settings, token)
    if ACK_SYSTEM in held:
        return Caller(ACK_SYSTEM, held[ACK_SYSTEM])
    if held:
        raise _refused(
            "forbidden",
            "http",
            "an integration engine's token: acknowledgements come from a clinician's own token or a "
            "system acknowledging for a clinician it names",
        )
    if verifier is None or not looks_like_jwt(token):
        raise _refused("invalid", "http")
    try:
        clinician = await verifier.clinician(token)
    except TokenRefused as refused:
        metrics.CLINICIAN_TOKENS_REFUSED.labels(refused.reason).inc()
        _log.warning("clinician_token_refused", reason=refused.reason)
        raise _refused("invalid", "http", f"the clinician's token is refused: {refused.detail}") from None
    except KeysUnavailable:
        metrics.CLINICIAN_TOKENS_REFUSED.labels("keys_unavailable").inc()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the identity provider's keys cannot be read now, so the token cannot be checked; retry",
            headers={"Retry-After": "5"},
        ) from None
    client = clinician.client
    return Caller(CLINICIAN, f"{IDP_SENDER}:{client}" if client else IDP_SENDER, clinician)


Engine = Depends(_role(ENGINE))  # POST /v1/events
EngineCaller = Annotated[Caller, Engine]
Acknowledger = Annotated[Caller, Depends(acknowledger)]  # POST /v1/acknowledgements


async def read_body(request: Request, limit: int, channel: str = "http") -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading it all.

    A body over the limit is not read, so there is nothing to keep on the dead-letter topic: the refusal
    is counted (``carepath_intake_events_rejected_total{reason="too_large"}``) and answered 413, and the
    sender, which still holds the body, is told to split it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        metrics.REJECTED.labels(channel, "too_large").inc()
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            metrics.REJECTED.labels(channel, "too_large").inc()
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, detail=f"request body exceeds {limit} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)
