"""One alert: its explanation (``/alerts/{id}``) and acknowledging it from the page.

The acknowledgement goes to intake's ``POST /v1/acknowledgements`` with the clinician system's token;
the reminder chain is read from followup before, and again after until followup has recorded it (a few
seconds at most), so the page shows both. Every acknowledgement is logged with who, how they logged in
and when - never the patient or the reason - and added to the patient's timeline.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from carepath import envelope, logs
from worklist import login, metrics, roles
from worklist.login import UserDep
from worklist.rows import awaiting_acknowledgement, chain
from worklist.sources import SourceUnavailable
from worklist.view import Entry
from worklist.web import Services, ServicesDep

router = APIRouter()
log = logs.get("worklist")
AFTER_WAIT_S = 5.0  # how long the page waits to show the chain as followup holds it after acknowledging
STATUS_LABEL = {202: "stored", 404: "unknown", 422: "invalid"}


async def context(svc: Services, escalation_id: str) -> dict[str, Any] | None:
    alert = svc.view.alert(escalation_id)
    if alert is None:
        return None
    try:
        patient: dict[str, Any] | None = await svc.followup.patient(alert.patient_id)
        problem = None
    except SourceUnavailable as exc:
        metrics.SOURCE_ERRORS.labels("followup").inc()
        patient, problem = None, str(exc)
    rows = chain(patient, escalation_id)
    return {
        "alert": alert,
        "x": alert.explanation,
        "sentences": svc.view.sentences(alert),
        "chain": rows,
        "awaiting_ack": awaiting_acknowledgement(rows) if patient is not None else not alert.acknowledged,
        "followup_problem": problem,
        "roles": roles.roles(),
        "reminders": sorted(alert.reminders.values(), key=lambda r: (r.fired_at, r.level)),
    }


def not_found(svc: Services, request: Request) -> Response:
    return svc.message(request, "Not found", "No such escalation is held by this page.", 404)


@router.get("/alerts/{escalation_id}", response_class=HTMLResponse)
async def alert_page(request: Request, escalation_id: str, who: UserDep, svc: ServicesDep) -> Response:
    ctx = await context(svc, escalation_id)
    if ctx is None:
        return not_found(svc, request)
    return svc.page(request, "alert.html", ctx | {"form": {}, "error": None})


@router.post("/alerts/{escalation_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(
    request: Request,
    escalation_id: str,
    who: UserDep,
    svc: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    override: Annotated[str, Form()] = "",
) -> Response:
    login.check_csrf(request, csrf)
    ctx = await context(svc, escalation_id)
    if ctx is None:
        return not_found(svc, request)
    reason = reason.strip()
    is_override = override in ("on", "true", "1")
    form = {"role": role, "reason": reason, "override": is_override}
    error = roles.acknowledgement_problem(role, reason, is_override)
    if error:
        metrics.REFUSED.labels("invalid").inc()
        return svc.page(request, "alert.html", ctx | {"form": form, "error": error}, 422)
    alert, before = ctx["alert"], ctx["chain"]
    try:
        outcome = await svc.intake.acknowledge(
            alert.patient_id, escalation_id, role, reason or None, is_override
        )
    except SourceUnavailable:
        metrics.ACKNOWLEDGEMENTS.labels("unavailable").inc()
        msg = "intake did not answer: nothing was stored. Try again."
        return svc.page(request, "alert.html", ctx | {"form": form, "error": msg}, 503)
    metrics.ACKNOWLEDGEMENTS.labels(STATUS_LABEL.get(outcome.status, "unavailable")).inc()
    at = envelope.iso(svc.clock.now())
    log.info(
        "acknowledgement_sent",
        user=logs.pseudonym(who.subject),
        method=who.method,
        target=logs.token(escalation_id),
        role=logs.token(role),
        override=is_override,
        answer=outcome.status,
        at=at,
    )
    if not outcome.stored:
        msg = f"intake refused the acknowledgement ({outcome.status}): {outcome.detail}"
        status = outcome.status if outcome.status in (404, 422) else 503
        return svc.page(request, "alert.html", ctx | {"form": form, "error": msg}, status)
    how = "Override" if is_override else "Acknowledged"
    title = f"{how} on the worklist by {who.name} ({roles.label(role)})"
    svc.view.record_action(alert.patient_id, Entry(f"page-{outcome.event_id}", at, "action", title, reason))
    after, answered = await chain_after(svc, alert.patient_id, escalation_id, before)
    return svc.page(
        request,
        "acknowledged.html",
        ctx
        | {
            "before": before,
            "after": after,
            "after_known": answered,
            "still_awaiting": awaiting_acknowledgement(after),
            "already": not ctx["awaiting_ack"],
            "role": role,
            "override": is_override,
            "at": at,
            "event_id": outcome.event_id,
        },
    )


async def chain_after(
    svc: Services, patient_id: str, escalation_id: str, before: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """The chain once followup has recorded the acknowledgement, or as it stands after AFTER_WAIT_S; and
    whether followup answered at all."""
    after, answered = before, False
    deadline = time.monotonic() + AFTER_WAIT_S
    while time.monotonic() < deadline:
        try:
            after = chain(await svc.followup.patient(patient_id), escalation_id)
            answered = True
        except SourceUnavailable:
            answered = False
        if answered and not awaiting_acknowledgement(after):
            break
        await asyncio.sleep(0.25)
    return after, answered
