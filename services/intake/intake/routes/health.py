"""Liveness, readiness and metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intake import metrics
from intake.deps import IntakeDep
from intake.responses import json_response

router = APIRouter(tags=["operations"])

_probe: dict[str, float | bool] = {"at": 0.0, "ok": False}


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "intake"}


@router.get("/readyz", summary="Readiness: the broker is reachable")
async def readyz(intake: IntakeDep) -> Response:
    now = time.monotonic()
    if now - float(_probe["at"]) > 1.0:
        _probe["ok"] = await intake.publisher.reachable()
        _probe["at"] = now
    ok = bool(_probe["ok"])
    metrics.BROKER_UP.set(1 if ok else 0)
    return json_response(
        {"status": "ready" if ok else "broker unreachable", "service": "intake"},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
