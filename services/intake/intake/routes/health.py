"""Liveness, readiness and metrics. The probes are open; ``/metrics`` too unless CAREPATH_METRICS_TOKENS is
set, then a scrape needs one of those bearer tokens (401 otherwise). Served by the HTTP API and by the
standalone MLLP listener's status port alike."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from carepath import metrics_page
from intake.deps import IntakeDep, SettingsDep
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


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Open unless CAREPATH_METRICS_TOKENS is set; then a bearer token from it (401 otherwise).",
    response_class=Response,
    responses={401: {"description": "CAREPATH_METRICS_TOKENS is set and none of them was presented"}},
)
async def prometheus_metrics(request: Request, settings: SettingsDep) -> Response:
    return metrics_page.page(request.headers.get("authorization"), settings.metrics_token_list)
