"""What every route of the page shares: the services it was wired with, rendering a page with the shared
context, and the words templates use for times and durations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from carepath import envelope
from carepath.clock import Clock
from followup.core.durations import describe, parse_duration
from worklist import login, roles
from worklist.feed import Feed, Hub
from worklist.login import Oidc
from worklist.rows import Steps
from worklist.settings import WorklistSettings
from worklist.sources import Followup, Intake
from worklist.view import View

HERE = Path(__file__).parent
UTC_ZONE = ZoneInfo("UTC")


@dataclass
class Services:
    settings: WorklistSettings
    view: View
    hub: Hub
    feed: Feed
    followup: Followup
    intake: Intake
    clock: Clock
    oidc: Oidc | None
    steps: Steps
    templates: Jinja2Templates

    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        """A template rendered with what every page shows: the user, the CSRF token, the services' clock
        (for the countdowns) and whether the page is live."""
        base = {
            "user": login.current(request),
            "csrf": login.csrf_token(request),
            "now": envelope.iso(self.clock.now()),
            "scale": float(getattr(self.clock, "scale", 1.0)),
            "live": self.feed.live,
            "environment": self.settings.environment,
        }
        return self.templates.TemplateResponse(request, name, base | context, status_code=status)

    def message(self, request: Request, title: str, text: str, status: int) -> HTMLResponse:
        return self.page(request, "message.html", {"title": title, "message": text}, status)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


def templates(settings: WorklistSettings) -> Jinja2Templates:
    found = Jinja2Templates(directory=HERE / "templates")
    zone = ZoneInfo(settings.time_zone)
    found.env.globals["label"] = roles.label
    found.env.filters["quote"] = lambda v: quote(str(v), safe="")
    found.env.filters["when"] = lambda value: when(value, zone)
    found.env.filters["within"] = within
    return found


def local_path(value: str | None) -> str:
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
