"""``/healthz`` (the process answers), ``/readyz`` (the view has read the topics up to where they were
at start) and ``/metrics`` (behind ``CAREPATH_METRICS_TOKENS`` when set)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from carepath import metrics_page
from worklist.web import ServicesDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: ServicesDep) -> JSONResponse:
    ready = svc.feed.caught_up
    body = {"ready": ready, "live": svc.feed.live, "escalations": len(svc.view.alerts)}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(svc: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    return metrics_page.page(authorization, svc.settings.metrics_token_list)
