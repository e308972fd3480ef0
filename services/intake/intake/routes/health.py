"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intake.deps import IntakeDep
from intake.responses import json_response

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "intake"}


@router.get("/readyz", summary="Readiness: the broker is reachable")
async def readyz(intake: IntakeDep) -> Response:
    ok = await intake.broker_reachable()
    return json_response(
        {"status": "ready" if ok else "broker unreachable", "service": "intake"},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
