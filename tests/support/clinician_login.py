"""A clinician's access token from the real OpenID Connect provider (tests/support/oidc_provider.py), got as
a relying party gets it: the authorization code flow with PKCE and a resource indicator, driven over real
HTTP with httpx (the provider's development sign-in form takes any login and password). The redirect back
is read from the ``Location`` header; nothing needs to listen at the redirect URI."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.oidc_provider import Provider


def access_token(idp: Provider, login: str, redirect_uri: str, resource: str) -> dict[str, str]:
    """The provider's token response (access_token, id_token, ...) for ``login``, the access token for
    ``resource``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    with httpx.Client(timeout=15) as client:
        page = client.get(
            f"{idp.issuer}/auth",
            params={
                "client_id": idp.client_id,
                "response_type": "code",
                "scope": "openid profile",
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "nonce": secrets.token_urlsafe(16),
                "resource": resource,
            },
            follow_redirects=True,
        )
        location = signed_in(client, page, login, redirect_uri)
        query = parse_qs(urlsplit(location).query)
        assert query.get("state") == [state], query
        assert "code" in query, query
        token = client.post(
            f"{idp.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "client_id": idp.client_id,
                "client_secret": idp.client_secret,
                "code_verifier": verifier,
                "resource": resource,
            },
        )
        assert token.status_code == 200, token.text
        found: dict[str, str] = token.json()
        return found


def signed_in(client: httpx.Client, page: httpx.Response, login: str, redirect_uri: str) -> str:
    """The provider's sign-in ``page`` filled with ``login`` and sent; the URL it redirects back to (at
    ``redirect_uri``, with the code and state), its own redirects followed on the way."""
    assert page.status_code == 200, page.text[:500]
    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', page.text)
    assert form, "no sign-in form at the provider"
    answer = client.post(
        str(page.url.join(html.unescape(form.group(1)))),
        data={"prompt": "login", "login": login, "password": "any"},
    )
    for _ in range(10):  # the provider's own redirects, then the one back to the relying party
        assert answer.status_code in (302, 303), answer.text[:500]
        location = str(answer.url.join(answer.headers["location"]))
        if location.startswith(redirect_uri):
            return location
        answer = client.get(location)
    raise AssertionError("the provider never redirected back")
