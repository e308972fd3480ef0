"""Logging in to the worklist with OpenID Connect against a real provider (panva/oidc-provider on
loopback, which requires PKCE): the authorization code flow, end to end over real HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from carepath_tools.broker import free_port
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo
from tests.support.oidc_provider import Provider, provider

pytestmark = pytest.mark.integration
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def setup(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Provider]]:
    logs: Path = tmp_path_factory.mktemp("worklist-oidc")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with provider([f"{base}/auth/callback"], logs / "oidc-provider.log") as idp:
        stack = Stack(log_dir=logs, bootstrap=broker.bootstrap, profile=broker.profile)
        stack.start_broker()
        nowhere = f"http://127.0.0.1:{free_port()}"
        svc = stack.add(
            "worklist",
            "worklist",
            "CAREPATH_WORKLIST_PORT",
            {
                "CAREPATH_WORKLIST_DEV_LOGIN": "false",
                "CAREPATH_WORKLIST_PUBLIC_URL": base,
                "CAREPATH_WORKLIST_OIDC_ISSUER": idp.issuer,
                "CAREPATH_WORKLIST_OIDC_CLIENT_ID": idp.client_id,
                "CAREPATH_WORKLIST_OIDC_CLIENT_SECRET": idp.client_secret,
                "CAREPATH_WORKLIST_FOLLOWUP_URL": nowhere,
                "CAREPATH_WORKLIST_INTAKE_URL": nowhere,
            },
            port=port,
        )
        svc.start()
        try:
            svc.wait_ready(60)
            yield svc, idp
        finally:
            stack.stop()


def sign_in(client: httpx.Client, authorize: str, login: str) -> httpx.Response:
    """At the provider: its sign-in form, filled and sent; its answer redirects back to the worklist."""
    page = client.get(authorize, follow_redirects=True)
    assert page.status_code == 200, page.text[:500]
    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', page.text)
    assert form, "no sign-in form at the provider"
    action = html.unescape(form.group(1))
    answer = client.post(
        str(page.url.join(action)), data={"prompt": "login", "login": login, "password": "any"}
    )
    while answer.status_code in (302, 303) and not answer.headers["location"].startswith(
        str(client.base_url)
    ):
        answer = client.get(str(answer.url.join(answer.headers["location"])))
    return answer


def test_the_authorization_code_flow_with_pkce_logs_the_user_in(setup: tuple[Service, Provider]) -> None:
    svc, idp = setup
    client = httpx.Client(base_url=svc.url, timeout=15)
    assert client.get("/", headers=HTML).headers["location"] == "/login?next=%2F"
    login_page = client.get("/login", params={"next": "/?severity=urgent"})
    assert "hospital account" in login_page.text and "Development login" not in login_page.text

    start = client.get("/login/oidc", params={"next": "/?severity=urgent"})
    assert start.status_code == 302
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{idp.issuer}/auth")
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0] and query["state"][0] and query["nonce"][0]

    back = sign_in(client, authorize, "dr.oidc")
    assert back.status_code in (302, 303) and "/auth/callback?" in back.headers["location"]
    done = client.get(back.headers["location"])
    assert done.status_code == 303 and done.headers["location"] == "/?severity=urgent"
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and "Logged in as <strong>dr.oidc</strong>" in page.text


def test_a_callback_with_a_forged_state_logs_nobody_in(setup: tuple[Service, Provider]) -> None:
    svc, _ = setup
    client = httpx.Client(base_url=svc.url, timeout=15)
    authorize = client.get("/login/oidc").headers["location"]
    back = sign_in(client, authorize, "dr.forger")
    callback = back.headers["location"]
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    refused = client.get(forged)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login?error=")
    assert client.get("/", headers=HTML).status_code == 303


def test_the_provider_refuses_a_client_that_sends_no_pkce(setup: tuple[Service, Provider]) -> None:
    _, idp = setup
    r = httpx.get(
        f"{idp.issuer}/auth",
        params={
            "client_id": idp.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": "http://127.0.0.1:1/auth/callback",
        },
    )
    assert r.status_code == 400  # so the login above passing shows the worklist sends PKCE
