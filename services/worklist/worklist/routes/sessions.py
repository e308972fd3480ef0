"""Logging in and out: the login page, the development login, the OpenID Connect redirect and callback."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from carepath import logs
from worklist import login, metrics
from worklist.login import UserDep
from worklist.web import ServicesDep, local_path

router = APIRouter()
log = logs.get("worklist")


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, svc: ServicesDep, next: str | None = None, error: str | None = None
) -> Response:
    context = {
        "next": local_path(next),
        "error": error,
        "oidc": svc.oidc is not None,
        "dev_login": svc.settings.dev_login_enabled,
    }
    return svc.page(request, "login.html", context)


@router.post("/login/dev")
async def dev_login(
    request: Request,
    svc: ServicesDep,
    name: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not svc.settings.dev_login_enabled:
        metrics.REFUSED.labels("dev_login_refused").inc()
        log.warning("dev_login_refused", environment=svc.settings.environment)
        return svc.message(request, "Refused", "The development login is not available here.", 403)
    login.check_csrf(request, csrf)
    try:
        clean = login.dev_name(name)
    except ValueError as exc:
        context = {
            "next": local_path(next),
            "error": str(exc),
            "oidc": svc.oidc is not None,
            "dev_login": True,
        }
        return svc.page(request, "login.html", context, 422)
    login.start_session(request, "dev:" + clean.lower().replace(" ", "-"), clean, "development")
    return RedirectResponse(local_path(next), status_code=303)


@router.get("/login/oidc")
async def oidc_login(request: Request, svc: ServicesDep, next: str | None = None) -> Response:
    if svc.oidc is None:
        return svc.message(request, "Not configured", "No identity provider.", 404)
    request.session["next"] = local_path(next)
    try:
        redirect: Response = await svc.oidc.redirect(request)
    except Exception as exc:  # the provider's discovery document could not be read
        metrics.SOURCE_ERRORS.labels("identity_provider").inc()
        log.warning("oidc_unavailable", error=type(exc).__name__)
        return svc.message(
            request, "Login unavailable", "The identity provider did not answer; try again.", 503
        )
    return redirect


@router.get("/auth/callback")
async def oidc_callback(request: Request, svc: ServicesDep) -> Response:
    if svc.oidc is None:
        return Response(status_code=404)
    after = local_path(request.session.get("next"))
    try:
        await svc.oidc.finish(request)
    except ValueError as exc:
        return RedirectResponse(f"/login?error={quote(str(exc), safe='')}", status_code=303)
    return RedirectResponse(after, status_code=303)


@router.post("/logout")
async def logout(request: Request, who: UserDep, csrf: Annotated[str, Form()] = "") -> Response:
    login.check_csrf(request, csrf)
    log.info("logout", user=logs.pseudonym(who.subject))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
