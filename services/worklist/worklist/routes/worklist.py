"""The worklist (``/``), its rows alone for the live page (``/rows``), and the live stream (``/live``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from worklist import metrics
from worklist.login import UserDep
from worklist.rows import SEVERITIES, Filters, build
from worklist.sources import SourceUnavailable
from worklist.web import Services, ServicesDep

router = APIRouter()
HEARTBEAT_S = 15.0


def filters_from(
    severity: str | None, rule: str | None, overdue: str | None, team: str | None
) -> tuple[Filters, str | None]:
    """The filters asked for, and what is wrong with them in words (the rest still applies)."""
    error = None
    if severity and severity not in SEVERITIES:
        error = f"severity must be one of {', '.join(SEVERITIES)}, not {severity[:20]!r}"
        severity = None
    if overdue not in (None, "", "true", "false"):
        error = f"overdue must be true or false, not {overdue[:20]!r}"
        overdue = None
    return (
        Filters(
            severity=severity or None,
            rule=(rule or "").strip()[:32] or None,
            overdue=None if not overdue else overdue == "true",
            team=(team or "").strip()[:64] or None,
        ),
        error,
    )


async def context(svc: Services, flt: Filters) -> dict[str, Any]:
    try:
        answer: dict[str, Any] | None = await svc.followup.worklist()
        problem = None
    except SourceUnavailable as exc:
        metrics.SOURCE_ERRORS.labels("followup").inc()
        answer, problem = None, str(exc)
    now = svc.clock.now()
    everything = build(svc.view, answer, now, Filters(), svc.steps)
    return {
        "worklist": build(svc.view, answer, now, flt, svc.steps),
        "filters": flt,
        "severities": SEVERITIES,
        "rules": everything.rules,
        "teams": everything.teams,
        "followup_problem": problem,
    }


async def _filtered(
    request: Request,
    svc: Services,
    template: str,
    severity: str | None,
    rule: str | None,
    overdue: str | None,
    team: str | None,
) -> Response:
    """``template`` over the worklist as filtered (422 naming a filter it cannot read)."""
    flt, error = filters_from(severity, rule, overdue, team)
    ctx = await context(svc, flt)
    return svc.page(request, template, ctx | {"error": error}, 422 if error else 200)


@router.get("/", response_class=HTMLResponse)
async def worklist_page(
    request: Request,
    who: UserDep,
    svc: ServicesDep,
    severity: str | None = None,
    rule: str | None = None,
    overdue: str | None = None,
    team: str | None = None,
) -> Response:
    return await _filtered(request, svc, "worklist.html", severity, rule, overdue, team)


@router.get("/rows", response_class=HTMLResponse)
async def worklist_rows(
    request: Request,
    who: UserDep,
    svc: ServicesDep,
    severity: str | None = None,
    rule: str | None = None,
    overdue: str | None = None,
    team: str | None = None,
) -> Response:
    return await _filtered(request, svc, "_rows.html", severity, rule, overdue, team)


@router.get("/live")
async def live(request: Request, who: UserDep, svc: ServicesDep) -> StreamingResponse:
    """Server-sent events: ``status`` (live / not-live) and ``change`` (ids, severity and rule only)."""

    async def stream() -> AsyncIterator[bytes]:
        async with svc.hub.subscribe() as q:
            state = "live" if svc.feed.live else "not-live"
            yield f"event: status\ndata: {state}\nretry: 3000\n\n".encode()
            while True:
                try:
                    change = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if change is None or await request.is_disconnected():
                    return
                if change.kind == "status":
                    yield f"event: status\ndata: {change.id}\n\n".encode()
                    continue
                if change.kind == "event":
                    continue  # a clinical event changes no row
                body = {
                    "kind": change.kind,
                    "escalation_id": change.escalation_id,
                    "severity": change.severity,
                    "rule": change.rule,
                    "change": change.change,
                }
                yield b"event: change\ndata: " + orjson.dumps(body) + b"\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
