"""OAuth2 bearer tokens for an endpoint that logs in to its server (a hospital's FHIR server: HAPI, Azure,
Epic), with the client credentials grant (RFC 6749 section 4.4) and one of three client authentications:

- ``client_secret_basic`` and ``client_secret_post``: the client secret in the Authorization header, or in
  the form;
- ``private_key_jwt``, as SMART Backend Services asks: a JWT assertion (RFC 7523) signed with carepath's
  private key (RS384 or ES384, ``kid`` in its header), ``iss`` = ``sub`` = the client id, ``aud`` = the token
  URL, a fresh ``jti`` and ``exp`` five minutes ahead, sent as ``client_assertion`` with
  ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``.

Each endpoint has one :class:`TokenCache`. A token is used until 80% of its ``expires_in`` has passed, or 60
seconds before it expires for a token longer than five minutes, then fetched again. One fetch at a time: the
workers that need a token meanwhile wait for that fetch and use its token (no burst of requests at the token
endpoint). An endpoint that answers 401 is given one new token (:meth:`TokenCache.refresh`; a refresh that
another worker already made is used rather than made again) and the request once more. A fetch that fails
raises :class:`TokenError`, which the courier treats as a failed attempt (retried with backoff, then
dead-lettered) with the reason; while a token fetched earlier is still valid a failed early refresh keeps it.

The token, the client secret and the assertion are never in a log line, a metric label or an exception
message: these carry the endpoint's name, the token URL, the HTTP status and the RFC 6749 error code only.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from joserfc import jwt

from carepath import logs
from notifier import metrics
from notifier.config import KEY_METHOD, OAuth2

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300  # SMART Backend Services: no more than five minutes
REFRESH_SHARE = 0.2  # fetch again when this share of the lifetime is left ...
REFRESH_BEFORE_S = 60.0  # ... or this long before expiry, whichever comes first
DEFAULT_EXPIRES_IN_S = 300.0  # when the token endpoint does not say (RFC 6749 only recommends expires_in)
KEEP_AFTER_FAILED_REFRESH_S = 5.0  # a failed early refresh: keep the valid token, try again after this
EXPIRY_MARGIN_S = 5.0  # never present a token this close to its expiry
# RFC 6749 section 5.2 error codes (and RFC 8707's invalid_target): the only text of a refusal repeated
ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
    }
)
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")  # RFC 6750 section 2.1: what a Bearer header may carry
OUTCOMES = ("issued", "refused", "http_error", "timeout", "unreachable", "invalid_response")
log = logs.get(__name__)


class TokenError(Exception):
    """No token: ``outcome`` is the metric label, the message says why without any credential in it."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Grant:
    access_token: str = field(repr=False)
    expires_in: float


def refresh_after(expires_in: float) -> float:
    """Seconds after a token was requested when it is fetched again."""
    return expires_in - min(REFRESH_BEFORE_S, expires_in * REFRESH_SHARE)


class TokenCache:
    """One endpoint's token: cached, refreshed before it expires, one fetch in flight at a time.

    ``fetch`` obtains a new token (raising :class:`TokenError`); ``clock`` is monotonic seconds. Expiry is
    counted from when the fetch began, so a slow answer only shortens the token's use."""

    def __init__(
        self, fetch: Callable[[], Awaitable[Grant]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._kept_until = 0.0  # after a failed early refresh

    def current(self) -> str | None:
        """The token to present now without fetching one, or None."""
        if self._token is None:
            return None
        now = self._clock()
        if now < self._refresh_at or (now < self._kept_until and now < self._expires_at - EXPIRY_MARGIN_S):
            return self._token
        return None

    async def get(self) -> str:
        """A token: the cached one while it is fresh, else the one a single fetch brings."""
        token = self.current()
        if token is not None:
            return token
        async with self._lock:
            token = self.current()  # fetched by another worker while this one waited
            if token is not None:
                return token
            return await self._renew()

    async def refresh(self, refused: str) -> str:
        """A new token after the endpoint refused ``refused`` (401): fetched once, however many workers
        had it refused; a worker that finds it already replaced uses the replacement."""
        async with self._lock:
            if self._token is not None and self._token != refused:
                token = self.current()
                if token is not None:
                    return token
            self._token = None  # refused: never presented again, not even while a fetch fails
            return await self._renew()

    async def _renew(self) -> str:
        started = self._clock()
        try:
            grant = await self._fetch()
        except TokenError:
            if self._token is not None and started < self._expires_at - EXPIRY_MARGIN_S:
                self._kept_until = started + KEEP_AFTER_FAILED_REFRESH_S
                return self._token
            raise
        self._token = grant.access_token
        self._refresh_at = started + refresh_after(grant.expires_in)
        self._expires_at = started + grant.expires_in
        self._kept_until = 0.0
        return grant.access_token


def assertion(config: OAuth2, now: float) -> str:
    """The signed client assertion (RFC 7523 section 2.2, as SMART Backend Services profiles it)."""
    assert config.private_key is not None and config.alg and config.kid
    claims = {
        "iss": config.client_id,
        "sub": config.client_id,
        "aud": config.token_url,
        "jti": secrets.token_urlsafe(32),
        "iat": int(now),
        "exp": int(now) + ASSERTION_LIFETIME_S,
    }
    header = {"alg": config.alg, "kid": config.kid, "typ": "JWT"}
    return jwt.encode(header, claims, config.private_key, algorithms=[config.alg])


def token_request(config: OAuth2, now: float) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of a client credentials token request."""
    form = {"grant_type": "client_credentials"}
    if config.scope:
        form["scope"] = config.scope
    headers = {"Accept": "application/json"}
    if config.auth_method == KEY_METHOD:
        form["client_assertion_type"] = JWT_BEARER
        form["client_assertion"] = assertion(config, now)
    elif config.auth_method == "client_secret_post":
        assert config.client_secret is not None
        form["client_id"] = config.client_id
        form["client_secret"] = config.client_secret
    else:  # client_secret_basic: each part form-encoded first (RFC 6749 section 2.3.1)
        assert config.client_secret is not None
        pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return form, headers


async def request_token(
    endpoint: str,
    config: OAuth2,
    client: httpx.AsyncClient,
    timeout_s: float,
    wall_clock: Callable[[], float] = time.time,
) -> Grant:
    """Ask the token endpoint for a token, counting the outcome; raises :class:`TokenError`."""
    try:
        grant = await _request(config, client, timeout_s, wall_clock())
    except TokenError as exc:
        metrics.TOKEN_REQUESTS.labels(endpoint, exc.outcome).inc()
        log.warning("oauth2 token not obtained", endpoint=endpoint, outcome=exc.outcome, reason=str(exc))
        raise
    metrics.TOKEN_REQUESTS.labels(endpoint, "issued").inc()
    log.info("oauth2 token obtained", endpoint=endpoint, expires_in_s=grant.expires_in)
    return grant


async def _request(config: OAuth2, client: httpx.AsyncClient, timeout_s: float, now: float) -> Grant:
    url = config.token_url
    form, headers = token_request(config, now)
    try:
        response = await client.post(url, data=form, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        raise TokenError("timeout", f"token endpoint {url}: no answer within {timeout_s:g}s") from None
    except httpx.HTTPError as exc:
        raise TokenError("unreachable", f"token endpoint {url} unreachable: {type(exc).__name__}") from None
    status = response.status_code
    if 400 <= status < 500:
        code = _error_code(response)
        raise TokenError(
            "refused",
            f"token endpoint {url} refused the request: HTTP {status}" + (f" {code}" if code else ""),
        )
    if status != 200:
        raise TokenError("http_error", f"token endpoint {url} answered HTTP {status}")
    return _grant(url, response)


def _error_code(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return ""
    code = doc.get("error") if isinstance(doc, dict) else None
    return code if code in ERROR_CODES else ""


def _grant(url: str, response: httpx.Response) -> Grant:
    def invalid(why: str) -> TokenError:
        return TokenError("invalid_response", f"token endpoint {url} answered 200 but {why}")

    try:
        doc: Any = response.json()
    except ValueError:
        raise invalid("not with JSON") from None
    if not isinstance(doc, dict):
        raise invalid("not with a JSON object")
    token = doc.get("access_token")
    if not isinstance(token, str) or not _B64TOKEN.match(token):
        raise invalid("without a usable access_token")
    token_type = doc.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        kind = token_type if isinstance(token_type, str) and len(token_type) <= 20 else "another"
        raise invalid(f"with token_type {kind!r}, not Bearer")
    expires_in = doc.get("expires_in", DEFAULT_EXPIRES_IN_S)
    if isinstance(expires_in, str) and expires_in.isdigit():  # some servers send it as a string
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise invalid("with an expires_in that is not a positive number of seconds")
    return Grant(token, float(expires_in))
