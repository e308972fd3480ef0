"""FastAPI dependencies: the wired service, authentication by role, bounded request bodies.

intake has two kinds of caller. The integration engines send events: ``POST /v1/events`` and every
``/fhir`` route (``CAREPATH_INTAKE_TOKENS``); the FHIR Communication and Task resources that record care
steps and acknowledgements arrive that way. The systems that acknowledge for clinicians (a worklist page,
a clinician's client) call ``POST /v1/acknowledgements`` (``CAREPATH_INTAKE_ACK_TOKENS``).
``GET /fhir/metadata`` answers either. No token or an unknown one is 401 (with ``WWW-Authenticate:
Bearer``), a known token of the other role 403; each refusal is counted by reason in
``carepath_intake_api_rejected_total{reason}`` (missing, invalid, forbidden) and, as before, under
``carepath_intake_events_rejected_total{reason="unauthorized"}``. The probes and ``/metrics`` are not
guarded here (``/metrics`` by CAREPATH_METRICS_TOKENS, see :mod:`intake.routes.health`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carepath import auth
from intake import metrics
from intake.service import Intake
from intake.settings import IntakeSettings

ENGINE = "engine"  # an integration engine: CAREPATH_INTAKE_TOKENS
CLINICIAN = "clinician"  # a system acknowledging for clinicians: CAREPATH_INTAKE_ACK_TOKENS

_bearer = HTTPBearer(
    auto_error=False,
    description="An integration engine's token (CAREPATH_INTAKE_TOKENS) for events and FHIR; a clinician "
    "system's (CAREPATH_INTAKE_ACK_TOKENS) for acknowledgements",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def get_settings(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.app.state.settings
    return settings


IntakeDep = Annotated[Intake, Depends(get_intake)]
SettingsDep = Annotated[IntakeSettings, Depends(get_settings)]


def refusal(
    settings: IntakeSettings,
    credentials: HTTPAuthorizationCredentials | None,
    roles: frozenset[str],
    channel: str = "http",
) -> HTTPException | None:
    """None when ``credentials`` hold a token of one of ``roles``; else the refusal (401 or 403), counted."""
    token = credentials.credentials if credentials else ""
    if not token:
        reason = "missing"
    else:
        # both lists compared in full, in constant time: the timing says neither which nor whose
        held = {
            role
            for role, accepted in ((ENGINE, settings.token_list), (CLINICIAN, settings.ack_token_list))
            if auth.matches(token, accepted)
        }
        if held & roles:
            return None
        reason = "forbidden" if held else "invalid"
    metrics.API_REJECTED.labels(reason).inc()
    metrics.REJECTED.labels(channel, "unauthorized").inc()
    if reason == "forbidden":
        return HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="this token's role may not call this route",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="missing or invalid bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _role(*roles: str) -> Callable[[IntakeSettings, HTTPAuthorizationCredentials | None], None]:
    allowed = frozenset(roles)

    def check(settings: SettingsDep, credentials: Credentials) -> None:
        refused = refusal(settings, credentials, allowed)
        if refused is not None:
            raise refused

    return check


Engine = Depends(_role(ENGINE))  # POST /v1/events
Clinician = Depends(_role(CLINICIAN))  # POST /v1/acknowledgements


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
