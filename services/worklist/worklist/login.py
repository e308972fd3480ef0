"""Who is using the page: the session, the hospital's OpenID Connect login, the development login and the
CSRF token.

The session is a cookie signed with ``CAREPATH_WORKLIST_SESSION_SECRET`` (HttpOnly, SameSite=Lax, Secure
when the page is served over https) holding the user's subject, display name, how they logged in, when,
and a random CSRF token that every form posts back. OpenID Connect is the authorization code flow with
PKCE (S256), state and nonce, the ID token's signature checked against the provider's published keys. The
development login (any name, no password) exists outside production only.

An OpenID Connect login also keeps the access token the provider issued for intake (asked for with the
resource indicator ``CAREPATH_WORKLIST_OIDC_RESOURCE``) and when it expires: the page acknowledges with
it, so intake records the clinician it verifies. The roles the page offers are the carepath roles that
token carries (read from it for the form only; intake checks the token). The cookie is signed, not
encrypted: it holds nothing the clinician's own browser may not hold, and an access token over
:data:`MAX_ACCESS_TOKEN` characters (a cookie holds about 4 KB) refuses the login, saying so.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from carepath import clinician_tokens, logs
from worklist import metrics, roles
from worklist.settings import WorklistSettings

log = logs.get("worklist.login")
SESSION_COOKIE = "carepath_worklist"
NAME_MAX = 80
MAX_ACCESS_TOKEN = 2500  # characters: the signed session cookie must stay under a browser's 4 KB
EXPIRY_MARGIN_S = 30  # a token this close to its expiry is not sent: the clinician logs in again


@dataclass(frozen=True)
class User:
    subject: str
    name: str
    method: str  # oidc, development
    since: str


class LoginRequired(Exception):
    """The request has no session; pages redirect to the login page, the live stream answers 401."""


class CsrfRefused(Exception):
    """A form posted without the session's CSRF token."""


def current(request: Request) -> User | None:
    raw = request.session.get("user")
    if not isinstance(raw, dict):
        return None
    try:
        return User(str(raw["sub"]), str(raw["name"]), str(raw["method"]), str(raw["since"]))
    except KeyError:
        return None


def require(request: Request) -> User:
    """The logged-in user; :class:`LoginRequired` when there is none."""
    found = current(request)
    if found is None:
        raise LoginRequired()
    return found


UserDep = Annotated[User, Depends(require)]


@dataclass(frozen=True)
class IntakeToken:
    """The clinician's access token for intake, as the login got it."""

    value: str = field(repr=False)
    expires_at: int  # unix time

    def usable(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.expires_at - EXPIRY_MARGIN_S

    def roles(self, claim: str) -> tuple[str, ...]:
        """The carepath roles the token carries, for the form to offer (intake checks the token itself)."""
        return clinician_tokens.roles_in(clinician_tokens.unverified_claims(self.value), claim, roles.roles())


def intake_token(request: Request) -> IntakeToken | None:
    """The access token an OpenID Connect login keeps for intake; None for a development login."""
    raw = request.session.get("intake_token")
    if not isinstance(raw, dict):
        return None
    value, expires = raw.get("value"), raw.get("expires_at")
    if not isinstance(value, str) or not isinstance(expires, int):
        return None
    return IntakeToken(value, expires)


def start_session(
    request: Request, subject: str, name: str, method: str, token: IntakeToken | None = None
) -> User:
    """A fresh session for this user (anything held before it, a pending login's state, is dropped)."""
    request.session.clear()
    since = datetime.now(UTC).isoformat(timespec="seconds")
    request.session["user"] = {"sub": subject, "name": name, "method": method, "since": since}
    if token is not None:
        request.session["intake_token"] = {"value": token.value, "expires_at": token.expires_at}
    request.session["csrf"] = secrets.token_urlsafe(32)
    metrics.LOGINS.labels(method, "ok").inc()
    log.info("login", user=logs.pseudonym(subject), method=method)
    return User(subject, name, method, since)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, presented: str | None) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not presented or not hmac.compare_digest(expected, presented):
        metrics.REFUSED.labels("csrf").inc()
        raise CsrfRefused("the form's security token is missing or does not match this session")


def dev_name(raw: str) -> str:
    """A development login's name: letters, digits, spaces and ._- only, 1-80 characters. ValueError
    naming what is wrong."""
    name = " ".join(raw.split())
    if not name:
        raise ValueError("enter a name to log in with")
    if len(name) > NAME_MAX:
        raise ValueError(f"a name has at most {NAME_MAX} characters")
    if not all(c.isalnum() or c in " ._-" for c in name):
        raise ValueError("a name may hold letters, digits, spaces and . _ - only")
    return name


class Oidc:
    """The hospital's identity provider (authorization code flow with PKCE)."""

    def __init__(self, settings: WorklistSettings) -> None:
        from authlib.integrations.starlette_client import OAuth

        self.redirect_uri = f"{settings.base_url}/auth/callback"
        # intake's audience, asked for on both requests (RFC 8707): the access token is then for intake
        self.resource = {"resource": settings.oidc_resource} if settings.oidc_resource else {}
        self.oauth = OAuth()
        self.client: Any = self.oauth.register(
            "hospital",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.oidc_scopes,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_post",
            },
        )

    async def redirect(self, request: Request) -> Any:
        return await self.client.authorize_redirect(request, self.redirect_uri, **self.resource)

    async def finish(self, request: Request) -> User:
        """The user of a completed login; ValueError with the reason when it is refused."""
        from authlib.integrations.base_client import OAuthError

        try:
            token = await self.client.authorize_access_token(request, **self.resource)
        except OAuthError as exc:
            metrics.LOGINS.labels("oidc", "refused").inc()
            raise ValueError(f"the identity provider refused the login: {exc.error}") from None
        claims = token.get("userinfo") or {}
        subject = str(claims.get("sub") or "")
        if not subject:
            metrics.LOGINS.labels("oidc", "refused").inc()
            raise ValueError("the identity provider's answer names no user")
        name = str(claims.get("name") or claims.get("preferred_username") or claims.get("email") or subject)
        access = str(token.get("access_token") or "")
        if len(access) > MAX_ACCESS_TOKEN:
            metrics.LOGINS.labels("oidc", "refused").inc()
            log.warning("access_token_too_large", length=len(access), limit=MAX_ACCESS_TOKEN)
            raise ValueError(
                f"the identity provider's access token is too large to keep ({len(access)} characters, at "
                f"most {MAX_ACCESS_TOKEN}): ask for fewer claims in it"
            )
        expires = token.get("expires_at") or clinician_tokens.unverified_claims(access).get("exp")
        kept = IntakeToken(access, int(expires)) if access and isinstance(expires, int | float) else None
        return start_session(request, subject, name, "oidc", kept)
