"""One alert: its explanation (``/alerts/{id}``) and acknowledging it from the page.

The acknowledgement goes to intake's ``POST /v1/acknowledgements`` with the clinician's own access token
(an OpenID Connect login): intake records the clinician it verifies, and the role is one of the roles the
token carries - the form offers those only, and intake checks it. A development login (no identity
provider) acknowledges with the page's system token, naming the person in ``on_behalf_of``: intake records
them as asserted by the page. The reminder chain is read from followup before, and again after until
followup has recorded it (a few seconds at most), so the page shows both. Every acknowledgement is logged
with who (a pseudonym), how they logged in and when - never the patient or the reason - and added to the
patient's timeline.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from carepath import envelope, logs
from worklist import login, metrics, roles
from worklist.login import User, UserDep
from worklist.rows import awaiting_acknowledgement, chain
from worklist.sources import Clinician, SourceUnavailable
from worklist.view import Entry
from worklist.web import Services, ServicesDep

router = APIRouter()
log = logs.get("worklist")
AFTER_WAIT_S = 5.0  # how long the page waits to show the chain as followup holds it after acknowledging
STATUS_LABEL = {202: "stored", 401: "refused", 403: "refused", 404: "unknown", 422: "invalid"}
LOGIN_AGAIN = "Your login has expired: log in again to acknowledge."
NO_ROLE = (
    "Your account has no carepath role at the identity provider, so you cannot acknowledge here; "
    "ask for one to be given to you."
)


@dataclass(frozen=True)
class Acting:
    """How the user acknowledges: the roles they may choose and who intake is told they are."""

    roles: tuple[str, ...]
    clinician: Clinician | None  # None: an OpenID Connect login whose token for intake is gone or expired
    problem: str | None = None


def acting(request: Request, svc: Services, who: User) -> Acting:
    if who.method != "oidc":  # the development login: the page asserts who, any role of the contract
        return Acting(roles.roles(), Clinician(who.subject, who.name))
    token = login.intake_token(request)
    if token is None or not token.usable():
        return Acting((), None, LOGIN_AGAIN)
    offered = token.roles(svc.settings.oidc_role_claim)
    return Acting(offered, Clinician(who.subject, who.name, token.value), None if offered else NO_ROLE)


async def context(svc: Services, escalation_id: str, acts: Acting) -> dict[str, Any] | None:
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
        "roles": acts.roles,
        "ack_problem": acts.problem,
        "reminders": sorted(alert.reminders.values(), key=lambda r: (r.fired_at, r.level)),
    }


def not_found(svc: Services, request: Request) -> Response:
    return svc.message(request, "Not found", "No such escalation is held by this page.", 404)


@router.get("/alerts/{escalation_id}", response_class=HTMLResponse)
async def alert_page(request: Request, escalation_id: str, who: UserDep, svc: ServicesDep) -> Response:
    ctx = await context(svc, escalation_id, acting(request, svc, who))
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
    acts = acting(request, svc, who)
    ctx = await context(svc, escalation_id, acts)
    if ctx is None:
        return not_found(svc, request)
    reason = reason.strip()
    is_override = override in ("on", "true", "1")
    form = {"role": role, "reason": reason, "override": is_override}
    if acts.clinician is None or acts.problem:
        metrics.REFUSED.labels("login_expired" if acts.clinician is None else "no_role").inc()
        status = 401 if acts.clinician is None else 403
        return svc.page(request, "alert.html", ctx | {"form": form, "error": acts.problem}, status)
    error = roles.acknowledgement_problem(role, reason, is_override, acts.roles)
    if error:
        metrics.REFUSED.labels("invalid").inc()
        return svc.page(request, "alert.html", ctx | {"form": form, "error": error}, 422)
    alert, before = ctx["alert"], ctx["chain"]
    try:
        outcome = await svc.intake.acknowledge(
            acts.clinician, alert.patient_id, escalation_id, role, reason or None, is_override
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
        identity="verified" if acts.clinician.token is not None else "asserted",
        answer=outcome.status,
        at=at,
    )
    if not outcome.stored:
        msg = f"intake refused the acknowledgement ({outcome.status}): {outcome.detail}"
        status = outcome.status if outcome.status in (401, 403, 404, 422) else 503
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
            "verified": outcome.verified,
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
