"""The worklist page's web application: the services wired once, the session and security headers, the
login and CSRF refusals, and the routes (``worklist.routes``: probes, sessions, worklist, alerts,
patients).

Every route but ``/healthz``, ``/readyz``, ``/metrics`` (bearer token when ``CAREPATH_METRICS_TOKENS`` is
set), the login routes and the static files needs a logged-in user: a page asked for in a browser without
one redirects to the login page, anything else answers 401. Every form posts the session's CSRF token. No
route logs a patient id or a URL path; pages are not cached.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from carepath import kafka_security
from worklist import login, metrics
from worklist.feed import Feed, Hub
from worklist.login import CsrfRefused, LoginRequired, Oidc
from worklist.routes import alerts, patients, probes, sessions
from worklist.routes import worklist as worklist_routes
from worklist.settings import WorklistSettings
from worklist.sources import Followup, Intake
from worklist.steps import steps
from worklist.view import View
from worklist.web import HERE, Services, templates


def wire(settings: WorklistSettings) -> Services:
    """Everything the routes use, built once from the settings (a bad pathway file stops it here)."""
    view = View(settings.max_escalations, settings.max_patients, settings.max_timeline)
    hub = Hub()
    profile = settings.profile
    return Services(
        settings=settings,
        view=view,
        hub=hub,
        feed=Feed(
            view,
            hub,
            settings.bootstrap_list,
            security=kafka_security.aiokafka_kwargs(settings),
            fetch_max_wait_ms=profile.fetch_max_wait_ms,
            request_timeout_ms=int(profile.request_timeout_s * 1000),
            read_clinical_events=settings.read_clinical_events,
        ),
        followup=Followup(settings.followup_url, settings.read_token),
        intake=Intake(settings.intake_url, settings.ack_token),
        clock=settings.clock(),
        oidc=Oidc(settings) if settings.oidc_enabled else None,
        steps=steps(settings.pathway_dir),
        templates=templates(settings),
    )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def create_app(settings: WorklistSettings) -> FastAPI:
    svc = wire(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await svc.feed.start()
        try:
            yield
        finally:
            await svc.feed.stop()
            await svc.followup.close()
            await svc.intake.close()

    api = FastAPI(
        title="carepath worklist", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
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
    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"frame-ancestors 'none'; form-action 'self' {settings.oidc_issuer}"
    ).strip()

    @api.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = csp
        return response

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
        return svc.message(request, "Refused", str(exc), 403)

    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (probes, sessions, worklist_routes, alerts, patients):
        api.include_router(module.router)
    return api
