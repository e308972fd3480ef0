"""OAuth2 tokens for an endpoint: the cache's refresh timing and single flight on a fake clock, the token
request for each client authentication, and how a token endpoint's answer is read."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from notifier import metrics
from notifier.config import OAuth2
from notifier.oauth2 import (
    JWT_BEARER,
    Grant,
    TokenCache,
    TokenError,
    refresh_after,
    request_token,
    token_request,
)

pytestmark = pytest.mark.unit

TOKEN_URL = "https://login.hospital.example/oauth2/token"
SECRET = "client-secret with/odd:chars&more=%"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTokenEndpoint:
    """Hands out tok-1, tok-2 ...; ``fail`` makes the next fetches raise; ``gate`` holds a fetch open."""

    expires_in: float = 3600.0
    fail: bool = False
    calls: int = 0
    gate: asyncio.Event | None = None
    issued: list[str] = field(default_factory=list)

    async def __call__(self) -> Grant:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise TokenError("http_error", f"token endpoint {TOKEN_URL} answered HTTP 503")
        token = f"tok-{self.calls}"
        self.issued.append(token)
        return Grant(token, self.expires_in)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_token_is_fetched_again_at_80_percent_of_a_short_life_or_60_s_before_a_long_one() -> None:
    assert refresh_after(10) == pytest.approx(8)
    assert refresh_after(300) == pytest.approx(240)
    assert refresh_after(3600) == pytest.approx(3540)


def test_the_token_is_cached_until_its_refresh_point_then_fetched_once_more() -> None:
    async def scenario() -> None:
        clock, endpoint = FakeClock(), FakeTokenEndpoint(expires_in=3600)
        cache = TokenCache(endpoint, clock)
        assert await cache.get() == "tok-1"
        clock.now += 3539
        assert await cache.get() == "tok-1"
        assert endpoint.calls == 1
        clock.now += 1  # 60 s before it expires
        assert await cache.get() == "tok-2"
        assert await cache.get() == "tok-2"
        assert endpoint.calls == 2

    run(scenario)


def test_many_workers_needing_a_token_at_once_cause_one_fetch() -> None:
    async def scenario() -> None:
        endpoint = FakeTokenEndpoint(gate=asyncio.Event())
        cache = TokenCache(endpoint, FakeClock())
        waiting = [asyncio.create_task(cache.get()) for _ in range(20)]
        await asyncio.sleep(0.01)
        assert endpoint.calls == 1  # the others wait for it
        endpoint.gate.set()  # type: ignore[union-attr]
        assert set(await asyncio.gather(*waiting)) == {"tok-1"}
        assert endpoint.calls == 1

    run(scenario)


def test_a_refused_token_is_replaced_once_however_many_workers_had_it_refused() -> None:
    async def scenario() -> None:
        endpoint = FakeTokenEndpoint()
        cache = TokenCache(endpoint, FakeClock())
        refused = await cache.get()
        replacements = await asyncio.gather(*(cache.refresh(refused) for _ in range(10)))
        assert set(replacements) == {"tok-2"}
        assert endpoint.calls == 2
        assert await cache.get() == "tok-2"

    run(scenario)


def test_a_failed_early_refresh_keeps_the_valid_token_and_tries_again_a_little_later() -> None:
    async def scenario() -> None:
        clock, endpoint = FakeClock(), FakeTokenEndpoint(expires_in=3600)
        cache = TokenCache(endpoint, clock)
        await cache.get()
        endpoint.fail = True
        clock.now += 3550  # past the refresh point, 50 s before expiry
        assert await cache.get() == "tok-1"
        assert await cache.get() == "tok-1"
        assert endpoint.calls == 2  # not asked again at once
        clock.now += 6
        assert await cache.get() == "tok-1"
        assert endpoint.calls == 3
        endpoint.fail = False
        clock.now += 6
        assert await cache.get() == "tok-4"

    run(scenario)


def test_without_a_valid_token_a_failed_fetch_is_an_error() -> None:
    async def scenario() -> None:
        clock, endpoint = FakeClock(), FakeTokenEndpoint(expires_in=60, fail=True)
        cache = TokenCache(endpoint, clock)
        with pytest.raises(TokenError, match="HTTP 503"):
            await cache.get()
        endpoint.fail = False
        assert await cache.get() == "tok-2"
        endpoint.fail = True
        clock.now += 58  # 2 s before expiry: too close to present it
        with pytest.raises(TokenError):
            await cache.get()

    run(scenario)


def test_a_refused_token_is_not_presented_again_when_its_replacement_cannot_be_fetched() -> None:
    async def scenario() -> None:
        endpoint = FakeTokenEndpoint()
        cache = TokenCache(endpoint, FakeClock())
        refused = await cache.get()
        endpoint.fail = True
        with pytest.raises(TokenError):
            await cache.refresh(refused)
        with pytest.raises(TokenError):
            await cache.get()

    run(scenario)


# --- the token request ------------------------------------------------------------------------------------


def secret_config(method: str = "client_secret_basic", scope: str | None = "system/Task.write") -> OAuth2:
    return OAuth2(
        TOKEN_URL, "carepath-notifier", method, "client_secret_env X", client_secret=SECRET, scope=scope
    )


def key_config(key: RSAKey | ECKey, alg: str) -> OAuth2:
    return OAuth2(
        TOKEN_URL,
        "carepath-smart",
        "private_key_jwt",
        "private_key_file /k.pem",
        private_key=key,
        kid="carepath-2025",
        alg=alg,
        scope="system/*.write",
    )


def test_client_secret_basic_sends_the_form_encoded_id_and_secret_in_the_authorization_header() -> None:
    form, headers = token_request(secret_config(), 1_700_000_000)
    assert form == {"grant_type": "client_credentials", "scope": "system/Task.write"}
    scheme, encoded = headers["Authorization"].split(" ")
    client_id, secret = base64.b64decode(encoded).decode().split(":")
    assert scheme == "Basic" and client_id == "carepath-notifier"
    assert secret == "client-secret%20with%2Fodd%3Achars%26more%3D%25"  # RFC 6749 2.3.1


def test_client_secret_post_sends_them_in_the_form() -> None:
    form, headers = token_request(secret_config("client_secret_post", scope=None), 1_700_000_000)
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "carepath-notifier",
        "client_secret": SECRET,
    }
    assert "Authorization" not in headers


@pytest.mark.parametrize(
    ("key", "alg"), [(RSAKey.generate_key(2048), "RS384"), (ECKey.generate_key("P-384"), "ES384")]
)
def test_private_key_jwt_sends_a_signed_assertion_as_smart_backend_services_asks(key: Any, alg: str) -> None:
    now = 1_700_000_000
    form, headers = token_request(key_config(key, alg), now)
    assert "Authorization" not in headers and "client_id" not in form
    assert form["grant_type"] == "client_credentials" and form["scope"] == "system/*.write"
    assert form["client_assertion_type"] == JWT_BEARER
    public = type(key).import_key(key.as_dict(private=False))
    token = jwt.decode(form["client_assertion"], public, algorithms=[alg])
    assert token.header == {"alg": alg, "kid": "carepath-2025", "typ": "JWT"}
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "carepath-smart"
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == now and claims["exp"] == now + 300  # no more than five minutes
    again = jwt.decode(
        token_request(key_config(key, alg), now)[0]["client_assertion"], public, algorithms=[alg]
    )
    assert len(claims["jti"]) >= 32 and again.claims["jti"] != claims["jti"]  # never reused


# --- the token endpoint's answer --------------------------------------------------------------------------


def answered(handler: Callable[[httpx.Request], httpx.Response]) -> Grant:
    async def call() -> Grant:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await request_token("ward-fhir", secret_config(), client, 5.0)

    return asyncio.run(call())


def refusal(handler: Callable[[httpx.Request], httpx.Response]) -> TokenError:
    with pytest.raises(TokenError) as caught:
        answered(handler)
    return caught.value


def counted(outcome: str) -> float:
    value = metrics.TOKEN_REQUESTS.labels("ward-fhir", outcome)._value.get()
    return float(value)


def test_a_token_is_read_with_its_lifetime_and_the_request_is_a_form_post() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"access_token": "eyJ.a-b_c~d+e/f=", "token_type": "bearer", "expires_in": "299"}
        )

    before = counted("issued")
    grant = answered(handler)
    assert grant.access_token == "eyJ.a-b_c~d+e/f=" and grant.expires_in == 299
    assert counted("issued") == before + 1
    [request] = seen
    assert request.method == "POST" and str(request.url) == TOKEN_URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["system/Task.write"],
    }


def test_a_token_without_expires_in_is_taken_as_valid_for_five_minutes() -> None:
    grant = answered(lambda r: httpx.Response(200, json={"access_token": "abc", "token_type": "Bearer"}))
    assert grant.expires_in == 300


def test_a_refusal_names_status_and_error_code_but_never_the_servers_description() -> None:
    before = counted("refused")
    error = refusal(
        lambda r: httpx.Response(
            401, json={"error": "invalid_client", "error_description": f"bad secret {SECRET}"}
        )
    )
    assert str(error) == f"token endpoint {TOKEN_URL} refused the request: HTTP 401 invalid_client"
    assert error.outcome == "refused" and counted("refused") == before + 1
    odd = refusal(lambda r: httpx.Response(400, json={"error": "anything the server likes"}))
    assert str(odd).endswith("HTTP 400")


@pytest.mark.parametrize(
    ("answer", "outcome", "says"),
    [
        (httpx.Response(503), "http_error", "answered HTTP 503"),
        (httpx.Response(302, headers={"location": "https://elsewhere.example/"}), "http_error", "HTTP 302"),
        (httpx.Response(200, text="<html>"), "invalid_response", "not with JSON"),
        (
            httpx.Response(200, json={"token_type": "Bearer"}),
            "invalid_response",
            "without a usable access_token",
        ),
        (
            httpx.Response(200, json={"access_token": "a b\r\nX-Injected: 1", "token_type": "Bearer"}),
            "invalid_response",
            "without a usable access_token",
        ),
        (
            httpx.Response(200, json={"access_token": "abc", "token_type": "DPoP"}),
            "invalid_response",
            "'DPoP'",
        ),
        (
            httpx.Response(200, json={"access_token": "abc", "token_type": "Bearer", "expires_in": 0}),
            "invalid_response",
            "expires_in",
        ),
    ],
)
def test_an_unusable_answer_is_an_error_saying_what_was_wrong(
    answer: httpx.Response, outcome: str, says: str
) -> None:
    error = refusal(lambda r: answer)
    assert error.outcome == outcome and says in str(error)
    assert "abc" not in str(error) and "X-Injected" not in str(error)


def test_an_unreachable_or_silent_token_endpoint_is_an_error_naming_it() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    assert str(refusal(refuse)) == f"token endpoint {TOKEN_URL} unreachable: ConnectError"
    assert refusal(silent).outcome == "timeout"


def test_no_credential_is_in_a_repr() -> None:
    key = ECKey.generate_key("P-384")
    text = repr(key_config(key, "ES384")) + repr(secret_config()) + repr(Grant("the-access-token", 60))
    assert SECRET not in text and "the-access-token" not in text and "PRIVATE" not in text
