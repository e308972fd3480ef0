"""A courier whose endpoint logs in with OAuth2, over an in-memory HTTP transport serving both the token
endpoint and the FHIR server: the bearer token presented and reused, a 401 answered by one new token and
one more request, and a token endpoint that fails going through retries to a dead letter with its reason."""

from __future__ import annotations

import asyncio
import base64
import random
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs

import httpx
import pytest

from notifier import metrics
from notifier.config import Endpoint, OAuth2, Retry
from notifier.courier import Courier
from notifier.state import DELIVERED
from tests.unit.notifier.test_courier import MemoryStore, endpoint, job, run, until

pytestmark = pytest.mark.unit

TOKEN_URL = "https://login.hospital.example/oauth2/token"
CLIENT_SECRET = "courier-test-client-secret"
OAUTH2 = OAuth2(
    TOKEN_URL,
    "carepath-notifier",
    "client_secret_basic",
    "client_secret_env X",
    client_secret=CLIENT_SECRET,
    scope="system/Task.write",
)


@dataclass
class Hospital:
    """The token endpoint and the FHIR server: tokens tok-1, tok-2 ...; the server takes the tokens in
    ``valid`` (every token issued unless ``revoke`` took it back)."""

    token_status: int = 200
    expires_in: int = 3600
    token_requests: list[httpx.Request] = field(default_factory=list)
    fhir_requests: list[httpx.Request] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    refuse_every_token: bool = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.token_requests.append(request)
            await asyncio.sleep(0.01)  # long enough for the other workers to want a token too
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_client"})
            token = f"tok-{len(self.token_requests)}"
            self.valid.add(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            )
        self.fhir_requests.append(request)
        presented = request.headers.get("authorization", "").removeprefix("Bearer ")
        ok = presented in self.valid and not self.refuse_every_token
        return httpx.Response(200 if ok else 401)

    def revoke(self) -> None:
        self.valid.clear()

    def tokens_presented(self) -> list[str]:
        return [r.headers["authorization"] for r in self.fhir_requests]


def fhir_endpoint(retry: Retry | None = None, concurrency: int = 4) -> Endpoint:
    ep = endpoint("ward-fhir", concurrency=concurrency)
    return replace(ep, oauth2=OAUTH2, retry=retry or ep.retry)


def courier(ep: Endpoint, store: MemoryStore, hospital: Hospital) -> Courier:
    return Courier(ep, store, transport=httpx.MockTransport(hospital), rng=random.Random(5))


def token_count(outcome: str) -> float:
    return float(metrics.TOKEN_REQUESTS.labels("ward-fhir", outcome)._value.get())


def delivered(store: MemoryStore) -> set[str]:
    return {r[0] for r in store.records if r[2] == DELIVERED}


def test_one_token_is_fetched_for_many_deliveries_and_presented_on_each() -> None:
    hospital, store = Hospital(), MemoryStore()
    issued_before = token_count("issued")

    async def scenario() -> None:
        c = courier(fhir_endpoint(), store, hospital)
        task = asyncio.create_task(c.run())
        for i in range(8):  # four workers want a token at once
            c.submit(job(f"esc-{i}.r1"))
        await until(lambda: len(delivered(store)) == 8)
        task.cancel()

    run(scenario)
    assert len(hospital.token_requests) == 1
    assert set(hospital.tokens_presented()) == {"Bearer tok-1"} and len(hospital.fhir_requests) == 8
    [request] = hospital.token_requests
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"carepath-notifier:{CLIENT_SECRET}".encode()).decode()
    )
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["system/Task.write"],
    }
    assert all("webhook-signature" in r.headers for r in hospital.fhir_requests)  # still signed as well
    assert token_count("issued") == issued_before + 1


def test_a_401_is_answered_by_one_new_token_and_one_more_request() -> None:
    hospital, store = Hospital(), MemoryStore()

    async def scenario() -> None:
        c = courier(fhir_endpoint(), store, hospital)
        task = asyncio.create_task(c.run())
        c.submit(job("esc-a.r1"))
        await until(lambda: delivered(store) == {"esc-a.r1"})
        hospital.revoke()  # the server no longer takes tok-1
        for i in range(6):
            c.submit(job(f"esc-b{i}.r1"))
        await until(lambda: len(delivered(store)) == 7)
        task.cancel()

    run(scenario)
    assert len(hospital.token_requests) == 2  # one refresh, however many requests had tok-1 refused
    presented = hospital.tokens_presented()
    assert presented[0] == "Bearer tok-1" and presented[-1] == "Bearer tok-2"
    assert presented.count("Bearer tok-1") <= 5  # tok-1 refused at most once per worker
    assert sorted(s for (_, _, s, _) in store.records) == [DELIVERED] * 7  # each in its first attempt
    assert {a for (_, _, _, a) in store.records} == {1}


def test_a_second_401_with_a_new_token_is_a_refusal_dead_lettered_at_once() -> None:
    hospital, store = Hospital(refuse_every_token=True), MemoryStore()

    async def scenario() -> None:
        c = courier(fhir_endpoint(), store, hospital)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: bool(store.dead))
        task.cancel()

    run(scenario)
    assert hospital.tokens_presented() == ["Bearer tok-1", "Bearer tok-2"]
    assert store.dead == [
        ("esc-1.r1", "ward-fhir", 1, "HTTP 401 with a new OAuth2 token (refused; not retried)")
    ]


def test_a_token_endpoint_that_refuses_is_retried_then_dead_lettered_with_its_reason() -> None:
    hospital, store = Hospital(token_status=401), MemoryStore()
    refused_before = token_count("refused")
    attempts_before = metrics.ATTEMPTS.labels("ward-fhir", "token_error")._value.get()

    async def scenario() -> None:
        c = courier(fhir_endpoint(Retry(attempts=3, base_s=0.001, cap_s=0.002)), store, hospital)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: bool(store.dead))
        task.cancel()

    run(scenario)
    assert hospital.fhir_requests == []  # nothing is sent without a token
    assert len(hospital.token_requests) == 3
    [(event_id, name, attempts, reason)] = store.dead
    assert (event_id, name, attempts) == ("esc-1.r1", "ward-fhir", 3)
    assert reason == f"OAuth2 token: token endpoint {TOKEN_URL} refused the request: HTTP 401 invalid_client"
    assert token_count("refused") == refused_before + 3
    assert metrics.ATTEMPTS.labels("ward-fhir", "token_error")._value.get() == attempts_before + 3


def test_a_token_endpoint_back_after_a_failure_lets_the_delivery_through_on_a_retry() -> None:
    hospital, store = Hospital(token_status=503), MemoryStore()

    async def scenario() -> None:
        c = courier(fhir_endpoint(Retry(attempts=5, base_s=0.001, cap_s=0.002)), store, hospital)
        task = asyncio.create_task(c.run())
        c.submit(job())
        await until(lambda: len(hospital.token_requests) >= 2)
        hospital.token_status = 200
        await until(lambda: bool(delivered(store)))
        task.cancel()

    run(scenario)
    assert store.dead == [] and hospital.fhir_requests[-1].headers["authorization"].startswith("Bearer tok-")
    assert [s for (_, _, s, _) in store.records][-1] == DELIVERED and store.records[-1][3] >= 2
