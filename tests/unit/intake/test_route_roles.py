"""Who may call which of intake's routes, over real HTTP: every route the app has is listed here with the
roles it admits, so a route added without deciding who may call it fails this test.

An integration engine (CAREPATH_INTAKE_TOKENS) sends events and FHIR; a system acknowledging for clinicians
(CAREPATH_INTAKE_ACK_TOKENS) acknowledges; either reads the CapabilityStatement. No token or an unknown one
is 401 with ``WWW-Authenticate: Bearer``, the other role's token 403, each counted by reason. The probes
are open, and the API documentation outside production (production serves none); ``/metrics`` is open
unless CAREPATH_METRICS_TOKENS is set."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from prometheus_client import REGISTRY

from intake.app import create_app
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.support.live import live
from tests.unit.intake.support import ACK_TOKEN, TOKEN, FixedClock

pytestmark = pytest.mark.unit

ENGINE, CLINICIAN = "engine", "clinician"
METRICS_TOKEN = "metrics-token-metrics-token-0001"
TOKENS = {ENGINE: TOKEN, CLINICIAN: ACK_TOKEN}

# (method, path) -> the roles it admits
GUARDED: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/events"): frozenset({ENGINE}),
    ("POST", "/fhir/{resource_type}"): frozenset({ENGINE}),
    ("PUT", "/fhir/{resource_type}/{resource_id}"): frozenset({ENGINE}),
    ("POST", "/fhir"): frozenset({ENGINE}),
    ("GET", "/fhir/metadata"): frozenset({ENGINE, CLINICIAN}),
    ("POST", "/v1/acknowledgements"): frozenset({CLINICIAN}),
}
PROBES = {("GET", "/healthz"), ("GET", "/readyz")}
DOCUMENTATION = {  # the published API contract, readable without a credential
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
METRICS = ("GET", "/metrics")


def app(**settings: str) -> FastAPI:
    config = IntakeSettings(
        environment="test",
        CAREPATH_INTAKE_TOKENS=TOKEN,
        CAREPATH_INTAKE_ACK_TOKENS=ACK_TOKEN,
        CAREPATH_INTAKE_FOLLOWUP_URL="http://127.0.0.1:9",  # never reached: refused first, or a 503
        **settings,  # type: ignore[arg-type]
    )
    return create_app(config, MemoryPublisher(), FixedClock())


def routes(api: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, routers included (FastAPI keeps included routers as a branch
    of the route list: iter_route_contexts walks them)."""
    found = set()
    for route in iter_route_contexts(api.routes):
        assert route.path is not None, route
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with live(app()) as base:
        yield base


@pytest.fixture(scope="module")
def guarded_metrics_url() -> Iterator[str]:
    with live(app(metrics_tokens=f"{METRICS_TOKEN},another-metrics-token-0002")) as base:
        yield base


def test_every_route_is_listed_with_who_may_call_it() -> None:
    assert routes(app()) == set(GUARDED) | PROBES | DOCUMENTATION | {METRICS}


def test_in_production_there_are_no_documentation_pages_every_other_route_needs_a_credential() -> None:
    production = IntakeSettings(
        environment="production",
        CAREPATH_INTAKE_TOKENS="e" * 30,
        CAREPATH_INTAKE_ACK_TOKENS="a" * 30,
        CAREPATH_WORKER_TOKEN="w" * 30,
    )  # type: ignore[arg-type]
    served = create_app(production, MemoryPublisher(), FixedClock())
    assert routes(served) == set(GUARDED) | PROBES | {METRICS}
    assert "/v1/events" in served.openapi()["paths"]  # still published: python -m intake.openapi


def request(base: str, method: str, path: str, authorization: str | None) -> httpx.Response:
    concrete = path.replace("{resource_type}", "Observation").replace("{resource_id}", "obs-1")
    media = "application/fhir+json" if path.startswith("/fhir") else "application/json"
    headers = {"Content-Type": media} | ({"Authorization": authorization} if authorization else {})
    body = b"{}" if method in ("POST", "PUT") else None
    return httpx.request(method, base + concrete, content=body, headers=headers, timeout=10)


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("carepath_intake_api_rejected_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(("method", "path"), sorted(GUARDED), ids=[f"{m} {p}" for m, p in sorted(GUARDED)])
def test_every_guarded_route_needs_a_token_of_its_role(
    url: str, method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = {r: rejected(r) for r in ("missing", "invalid", "forbidden")}
    with caplog.at_level(logging.DEBUG):
        anonymous = request(url, method, path, None)
        unknown = request(url, method, path, "Bearer not-one-of-intakes-tokens-00000")
        basic = request(url, method, path, f"Basic {TOKEN}")
        as_role = {role: request(url, method, path, f"Bearer {token}") for role, token in TOKENS.items()}
    for refused in (anonymous, unknown, basic):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
    allowed = GUARDED[(method, path)]
    for role, answer in as_role.items():
        if role in allowed:
            assert answer.status_code not in (401, 403), (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.text)
    if path.startswith("/fhir"):  # FHIR's refusals are OperationOutcomes like its other answers
        assert anonymous.json()["resourceType"] == "OperationOutcome"
    wrong_role = len(TOKENS) - len(allowed)
    assert rejected("missing") == before["missing"] + 2  # none, and not a bearer token
    assert rejected("invalid") == before["invalid"] + 1
    assert rejected("forbidden") == before["forbidden"] + wrong_role
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and ACK_TOKEN not in logged


@pytest.mark.parametrize(("method", "path"), sorted(PROBES | DOCUMENTATION | {METRICS}))
def test_probes_documentation_and_metrics_are_open_by_default(url: str, method: str, path: str) -> None:
    answer = request(url, method, path, None)
    assert answer.status_code in (200, 503), answer.text  # 503: /readyz without a broker
    if path == "/metrics":
        assert "carepath_intake_api_rejected_total" in answer.text


def test_metrics_needs_a_metrics_token_when_they_are_set(guarded_metrics_url: str) -> None:
    base = guarded_metrics_url
    anonymous = request(base, "GET", "/metrics", None)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert "carepath_" not in anonymous.text
    for other in (f"Bearer {TOKEN}", f"Bearer {ACK_TOKEN}", "Bearer wrong", f"Basic {METRICS_TOKEN}"):
        assert request(base, "GET", "/metrics", other).status_code == 401, other
    for good in (METRICS_TOKEN, "another-metrics-token-0002"):
        scraped = request(base, "GET", "/metrics", f"Bearer {good}")
        assert scraped.status_code == 200 and "carepath_intake_events_accepted" in scraped.text
    for method, path in PROBES:
        assert request(base, method, path, None).status_code in (200, 503)


def test_production_needs_both_roles_tokens_each_its_own_and_strong_metrics_tokens() -> None:
    strong = {
        "CAREPATH_INTAKE_TOKENS": "e" * 30,
        "CAREPATH_INTAKE_ACK_TOKENS": "a" * 30,
        "CAREPATH_WORKER_TOKEN": "w" * 30,
    }
    ready = IntakeSettings(environment="production", **strong)  # type: ignore[arg-type]
    assert ready.token_list == ["e" * 30] and ready.ack_token_list == ["a" * 30]
    assert ready.metrics_token_list == []  # unset: /metrics open
    without_ack = {k: v for k, v in strong.items() if k != "CAREPATH_INTAKE_ACK_TOKENS"}
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_ACK_TOKENS must be set in production"):
        IntakeSettings(environment="production", **without_ack)  # type: ignore[arg-type]
    for weak in ("short", "dev-only-ack-token", "dev-only-token"):
        with pytest.raises(ValueError, match="CAREPATH_INTAKE_ACK_TOKENS: every production token"):
            IntakeSettings(environment="production", **strong | {"CAREPATH_INTAKE_ACK_TOKENS": weak})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a token is also in CAREPATH_INTAKE_TOKENS"):
        IntakeSettings(
            environment="production", **strong | {"CAREPATH_INTAKE_ACK_TOKENS": f"{'a' * 30},{'e' * 30}"}
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CAREPATH_METRICS_TOKENS: every production token"):
        IntakeSettings(environment="production", metrics_tokens="short", **strong)  # type: ignore[arg-type]
    metrics = IntakeSettings(environment="production", metrics_tokens="m" * 24, **strong)  # type: ignore[arg-type]
    assert metrics.metrics_token_list == ["m" * 24]
    development = IntakeSettings(environment="development")
    assert development.token_list == ["dev-only-token"] and development.ack_token_list == [
        "dev-only-ack-token"
    ]
