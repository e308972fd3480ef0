"""FastAPI dependencies: the wired service, authentication, bounded request bodies."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intake import metrics
from intake.service import Intake
from intake.settings import IntakeSettings

_bearer = HTTPBearer(auto_error=False, description="Bearer token from CAREPATH_INTAKE_TOKENS")


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def get_settings(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.app.state.settings
    return settings


IntakeDep = Annotated[Intake, Depends(get_intake)]
SettingsDep = Annotated[IntakeSettings, Depends(get_settings)]


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    presented = credentials.credentials.encode() if credentials else b""
    ok = False
    for token in settings.token_list:  # compare against every token: timing does not reveal which matched
        ok |= hmac.compare_digest(presented, token.encode())
    if not credentials or not ok:
        metrics.REJECTED.labels("http", "unauthorized").inc()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


Authenticated = Depends(require_token)


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
