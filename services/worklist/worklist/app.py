"""The worklist page's web application: pages, the live stream, login and the probes.

Every route but ``/healthz``, ``/readyz``, ``/metrics`` (bearer token when ``CAREPATH_METRICS_TOKENS`` is
set), the login routes and the static files needs a logged-in user: a page asked for without one
redirects to the login page, the live stream and the row fragment answer 401. Every form posts the
session's CSRF token. No route logs a patient id or a URL path; pages are not cached and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson
from fastapi import FastAPI, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from carepath import envelope, logs, metrics_page
from carepath.clock import Clock
from followup.core.durations import describe, parse_duration
from worklist import login, metrics, roles
from worklist.feed import Feed, Hub
from worklist.login import CsrfRefused, LoginRequired, Oidc, UserDep
from worklist.rows import SEVERITIES, Filters, Steps, awaiting_acknowledgement, build, chain
from worklist.settings import WorklistSettings
from worklist.sources import Followup, Intake, SourceUnavailable
from worklist.steps import steps
from worklist.view import Entry, View

HERE = Path(__file__).parent
UTC_ZONE = ZoneInfo("UTC")
log = logs.get("worklist")
AFTER_WAIT_S = 5.0  # how long the page waits to show the chain as followup holds it after acknowledging
HEARTBEAT_S = 15.0


@dataclass
class Services:
    settings: WorklistSettings
    view: View
    hub: Hub
    feed: Feed | None
    followup: Followup
    intake: Intake
    clock: Clock
    oidc: Oidc | None
    steps: Steps


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _local_path(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def when(value: object, zone: ZoneInfo = UTC_ZONE) -> str:
    """An RFC 3339 instant as a clinician reads it, in the page's zone: ``Fri 04 Dec 2026 11:34 GMT``."""
    try:
        t = envelope.parse_time(str(value)).astimezone(zone)
    except ValueError:
        return str(value or "")
    return t.strftime("%a %d %b %Y %H:%M %Z")


def within(value: object) -> str:
    """An action's ISO 8601 duration in clinical words (``PT24H`` -> ``within 24 h``)."""
    try:
        delta = parse_duration(str(value)).delta
    except ValueError:
        return f"within {value}"
    return "at once" if not delta else f"within {describe(delta)}"


def create_app(settings: WorklistSettings, *, feed: bool = True) -> FastAPI:
    view = View(settings.max_escalations, settings.max_patients, settings.max_timeline)
    hub = Hub()
    profile = settings.profile
    svc = Services(
        settings=settings,
        view=view,
        hub=hub,
        feed=Feed(
            view,
            hub,
            settings.bootstrap_list,
            fetch_max_wait_ms=profile.fetch_max_wait_ms,
            request_timeout_ms=int(profile.request_timeout_s * 1000),
            read_clinical_events=settings.read_clinical_events,
        )
        if feed
        else None,
        followup=Followup(settings.followup_url, settings.read_token),
        intake=Intake(settings.intake_url, settings.ack_token),
        clock=settings.clock(),
        oidc=Oidc(settings) if settings.oidc_enabled else None,
        steps=steps(settings.pathway_dir),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if svc.feed is not None:
            await svc.feed.start()
        try:
            yield
        finally:
            if svc.feed is not None:
                await svc.feed.stop()
            await svc.followup.close()
            await svc.intake.close()

    api = FastAPI(
        title="carepath worklist",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    api.state.services = svc
    api.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_key,
        session_cookie=login.SESSION_COOKIE,
        max_age=int(settings.session_hours * 3600),
        same_site="lax",
        https_only=settings.secure_cookies,
    )

    @api.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self' " + (settings.oidc_issuer or "")
        ).strip()
        return response

    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["label"] = roles.label
    templates.env.filters["quote"] = lambda v: quote(str(v), safe="")
    zone = ZoneInfo(settings.time_zone)
    templates.env.filters["when"] = lambda value: when(value, zone)
    templates.env.filters["within"] = within

    @api.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        metrics.REFUSED.labels("login_required").inc()
        if _wants_html(request):
            target = "/"
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse({"detail": "log in first"}, status_code=401)

    @api.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return page(request, "message.html", {"title": "Refused", "message": str(exc)}, 403)

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        now = svc.clock.now()
        base = {
            "user": login.current(request),
            "csrf": login.csrf_token(request),
            "now": envelope.iso(now),
            "scale": float(getattr(svc.clock, "scale", 1.0)),
            "live": svc.feed.live if svc.feed else False,
            "environment": settings.environment,
        }
        return templates.TemplateResponse(request, name, base | context, status_code=status)

    # --- probes --------------------------------------------------------------------------------------

    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ready = svc.feed is None or svc.feed.caught_up
        body = {"ready": ready, "live": bool(svc.feed and svc.feed.live), "escalations": len(view.alerts)}
        return JSONResponse(body, status_code=200 if ready else 503)

    @api.get("/metrics", include_in_schema=False)
    async def metrics_route(authorization: Annotated[str | None, Header()] = None) -> Response:
        return metrics_page.page(authorization, settings.metrics_token_list)

    # --- login ---------------------------------------------------------------------------------------

    @api.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str | None = None, error: str | None = None) -> Response:
        return page(
            request,
            "login.html",
            {
                "next": _local_path(next),
                "error": error,
                "oidc": svc.oidc is not None,
                "dev_login": settings.dev_login_enabled,
            },
        )

    @api.post("/login/dev")
    async def dev_login(
        request: Request,
        name: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not settings.dev_login_enabled:
            metrics.REFUSED.labels("dev_login_refused").inc()
            log.warning("dev_login_refused", environment=settings.environment)
            return page(
                request,
                "message.html",
                {"title": "Refused", "message": "The development login is not available here."},
                403,
            )
        login.check_csrf(request, csrf)
        try:
            clean = login.dev_name(name)
        except ValueError as exc:
            ctx = {"next": _local_path(next), "error": str(exc), "oidc": svc.oidc is not None}
            return page(request, "login.html", ctx | {"dev_login": True}, 422)
        login.start_session(request, "dev:" + clean.lower().replace(" ", "-"), clean, "development")
        return RedirectResponse(_local_path(next), status_code=303)

    @api.get("/login/oidc")
    async def oidc_login(request: Request, next: str | None = None) -> Response:
        if svc.oidc is None:
            return page(
                request, "message.html", {"title": "Not configured", "message": "No identity provider."}, 404
            )
        request.session["next"] = _local_path(next)
        try:
            redirect: Response = await svc.oidc.redirect(request)
        except Exception as exc:  # the provider's discovery document could not be read
            metrics.SOURCE_ERRORS.labels("identity_provider").inc()
            log.warning("oidc_unavailable", error=type(exc).__name__)
            return page(
                request,
                "message.html",
                {"title": "Login unavailable", "message": "The identity provider did not answer; try again."},
                503,
            )
        return redirect

    @api.get("/auth/callback")
    async def oidc_callback(request: Request) -> Response:
        if svc.oidc is None:
            return Response(status_code=404)
        after = _local_path(request.session.get("next"))
        try:
            await svc.oidc.finish(request)
        except ValueError as exc:
            return RedirectResponse(f"/login?error={quote(str(exc), safe='')}", status_code=303)
        return RedirectResponse(after, status_code=303)

    @api.post("/logout")
    async def logout(request: Request, who: UserDep, csrf: Annotated[str, Form()] = "") -> Response:
        login.check_csrf(request, csrf)
        log.info("logout", user=logs.token(who.subject))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- the worklist --------------------------------------------------------------------------------

    def filters_from(
        severity: str | None, rule: str | None, overdue: str | None, team: str | None
    ) -> tuple[Filters, str | None]:
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

    async def worklist_context(flt: Filters) -> dict[str, Any]:
        try:
            answer: dict[str, Any] | None = await svc.followup.worklist()
            problem = None
        except SourceUnavailable as exc:
            metrics.SOURCE_ERRORS.labels("followup").inc()
            answer, problem = None, str(exc)
        now = svc.clock.now()
        wl = build(view, answer, now, flt, svc.steps)
        everything = build(view, answer, now, Filters(), svc.steps)
        return {
            "worklist": wl,
            "filters": flt,
            "severities": SEVERITIES,
            "rules": everything.rules,
            "teams": everything.teams,
            "followup_problem": problem,
        }

    @api.get("/", response_class=HTMLResponse)
    async def worklist_page(
        request: Request,
        who: UserDep,
        severity: str | None = None,
        rule: str | None = None,
        overdue: str | None = None,
        team: str | None = None,
    ) -> Response:
        flt, error = filters_from(severity, rule, overdue, team)
        ctx = await worklist_context(flt)
        return page(request, "worklist.html", ctx | {"error": error}, 422 if error else 200)

    @api.get("/rows", response_class=HTMLResponse)
    async def worklist_rows(
        request: Request,
        who: UserDep,
        severity: str | None = None,
        rule: str | None = None,
        overdue: str | None = None,
        team: str | None = None,
    ) -> Response:
        flt, error = filters_from(severity, rule, overdue, team)
        ctx = await worklist_context(flt)
        return page(request, "_rows.html", ctx | {"error": error}, 422 if error else 200)

    @api.get("/live")
    async def live(request: Request, who: UserDep) -> StreamingResponse:
        async def stream() -> AsyncIterator[bytes]:
            async with hub.subscribe() as q:
                state = "live" if svc.feed and svc.feed.live else "not-live"
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

    # --- one alert -----------------------------------------------------------------------------------

    async def alert_context(escalation_id: str) -> dict[str, Any] | None:
        alert = view.alert(escalation_id)
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
            "sentences": view.sentences(alert),
            "chain": rows,
            "awaiting_ack": awaiting_acknowledgement(rows) if patient is not None else not alert.acknowledged,
            "followup_problem": problem,
            "roles": roles.roles(),
            "reminders": sorted(alert.reminders.values(), key=lambda r: (r.fired_at, r.level)),
        }

    def not_found(request: Request) -> HTMLResponse:
        return page(
            request,
            "message.html",
            {"title": "Not found", "message": "No such escalation is held by this page."},
            404,
        )

    @api.get("/alerts/{escalation_id}", response_class=HTMLResponse)
    async def alert_page(request: Request, escalation_id: str, who: UserDep) -> Response:
        ctx = await alert_context(escalation_id)
        if ctx is None:
            return not_found(request)
        return page(request, "alert.html", ctx | {"form": {}, "error": None})

    @api.post("/alerts/{escalation_id}/acknowledge", response_class=HTMLResponse)
    async def acknowledge(
        request: Request,
        escalation_id: str,
        who: UserDep,
        csrf: Annotated[str, Form()] = "",
        role: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        override: Annotated[str, Form()] = "",
    ) -> Response:
        login.check_csrf(request, csrf)
        ctx = await alert_context(escalation_id)
        if ctx is None:
            return not_found(request)
        reason = reason.strip()
        is_override = override in ("on", "true", "1")
        form = {"role": role, "reason": reason, "override": is_override}
        error = roles.acknowledgement_problem(role, reason, is_override)
        if error:
            metrics.REFUSED.labels("invalid").inc()
            return page(request, "alert.html", ctx | {"form": form, "error": error}, 422)
        alert = ctx["alert"]
        before = ctx["chain"]
        try:
            outcome = await svc.intake.acknowledge(
                alert.patient_id, escalation_id, role, reason or None, is_override
            )
        except SourceUnavailable:
            metrics.ACKNOWLEDGEMENTS.labels("unavailable").inc()
            msg = "intake did not answer: nothing was stored. Try again."
            return page(request, "alert.html", ctx | {"form": form, "error": msg}, 503)
        outcome_label = {202: "stored", 404: "unknown", 422: "invalid"}.get(outcome.status, "unavailable")
        metrics.ACKNOWLEDGEMENTS.labels(outcome_label).inc()
        at = envelope.iso(svc.clock.now())
        log.info(
            "acknowledgement_sent",
            user=logs.token(who.subject),
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
            return page(request, "alert.html", ctx | {"form": form, "error": msg}, status)
        how = "Override" if is_override else "Acknowledged"
        view.record_action(
            alert.patient_id,
            Entry(
                f"page-{outcome.event_id}",
                at,
                "action",
                f"{how} on the worklist by {who.name} ({roles.label(role)})",
                reason,
            ),
        )
        after, answered = before, False
        deadline = time.monotonic() + AFTER_WAIT_S
        while time.monotonic() < deadline:
            try:
                after = chain(await svc.followup.patient(alert.patient_id), escalation_id)
                answered = True
            except SourceUnavailable:
                answered = False
            if answered and not awaiting_acknowledgement(after):
                break
            await asyncio.sleep(0.25)
        return page(
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

    # --- one patient ---------------------------------------------------------------------------------

    @api.get("/patients/{patient_id}", response_class=HTMLResponse)
    async def patient_page(request: Request, patient_id: str, who: UserDep) -> Response:
        timeline = view.timeline(patient_id)
        alerts = [a for a in view.alerts.values() if a.patient_id == patient_id]
        if not timeline and not alerts:
            return page(
                request,
                "message.html",
                {"title": "Not found", "message": "The page holds nothing for this patient."},
                404,
            )
        try:
            open_items: dict[str, Any] | None = await svc.followup.patient(patient_id)
            problem = None
        except SourceUnavailable as exc:
            open_items, problem = None, str(exc)
        return page(
            request,
            "patient.html",
            {
                "patient_id": patient_id,
                "timeline": list(reversed(timeline)),
                "alerts": alerts,
                "open_items": open_items,
                "followup_problem": problem,
            },
        )

    return api
