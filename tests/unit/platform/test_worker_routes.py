"""A worker's own HTTP pages (triage, followup and notifier all serve them, from carepath.worker), over real
HTTP: every route is listed here, the probes are open, and ``/metrics`` is open unless
CAREPATH_METRICS_TOKENS is set, when a scrape without one of its bearer tokens is 401. (followup's worklist
routes, installed on the same app, are tested with their roles in tests/unit/intake.)"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from faust.types import TP
from prometheus_client import REGISTRY

from carepath import auth
from carepath.settings import CommonSettings
from carepath.streaming import make_app
from carepath.worker import WorkerShell
from tests.support.live import live

pytestmark = pytest.mark.unit

METRICS_TOKEN = "worker-metrics-token-000000001"
PROBES = {("GET", "/healthz"), ("GET", "/readyz")}
DOCUMENTATION = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
METRICS = ("GET", "/metrics")
_apps = itertools.count()


def worker_api(monkeypatch: pytest.MonkeyPatch, metrics_tokens: str | None) -> FastAPI:
    """A worker's pages, as the worker process builds them from its environment."""
    monkeypatch.setenv("CAREPATH_ENVIRONMENT", "test")
    if metrics_tokens is None:
        monkeypatch.delenv("CAREPATH_METRICS_TOKENS", raising=False)
    else:
        monkeypatch.setenv("CAREPATH_METRICS_TOKENS", metrics_tokens)
    app = make_app(f"test-worker-pages-{next(_apps)}", CommonSettings(environment="test"), web_port=1)
    return WorkerShell(app, "triage", ["clinical.events"]).api


def routes(api: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, str(route.path))
        for route in iter_route_contexts(api.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }


@pytest.fixture
def open_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with live(worker_api(monkeypatch, None), lifespan="off") as url:
        yield url


@pytest.fixture
def guarded_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with live(
        worker_api(monkeypatch, f"{METRICS_TOKEN}, second-worker-metrics-token-02"), lifespan="off"
    ) as url:
        yield url


def test_every_route_of_a_worker_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert routes(worker_api(monkeypatch, None)) == PROBES | DOCUMENTATION | {METRICS}


def test_a_production_worker_serves_no_documentation_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREPATH_ENVIRONMENT", "production")
    monkeypatch.delenv("CAREPATH_METRICS_TOKENS", raising=False)
    app = make_app(f"test-worker-pages-{next(_apps)}", CommonSettings(environment="production"), web_port=1)
    assert routes(WorkerShell(app, "triage", ["clinical.events"]).api) == PROBES | {METRICS}


def test_everything_is_open_by_default(open_url: str) -> None:
    for _, path in sorted(PROBES | DOCUMENTATION):
        assert httpx.get(open_url + path, timeout=10).status_code in (200, 503), path  # 503: not ready yet
    scraped = httpx.get(open_url + "/metrics", timeout=10)
    assert scraped.status_code == 200 and "carepath_consumer_lag" in scraped.text


def test_metrics_needs_one_of_the_metrics_tokens_when_they_are_set(guarded_url: str) -> None:
    anonymous = httpx.get(guarded_url + "/metrics", timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert "carepath_" not in anonymous.text
    for other in ("Bearer not-the-metrics-token-00000", f"Basic {METRICS_TOKEN}", "Bearer"):
        assert (
            httpx.get(guarded_url + "/metrics", headers={"Authorization": other}, timeout=10).status_code
            == 401
        )
    worker = auth.bearer(auth.DEV_WORKER_TOKEN)  # another role's token is not a metrics token
    assert httpx.get(guarded_url + "/metrics", headers=worker, timeout=10).status_code == 401
    for token in (METRICS_TOKEN, "second-worker-metrics-token-02"):
        scraped = httpx.get(guarded_url + "/metrics", headers=auth.bearer(token), timeout=10)
        assert scraped.status_code == 200 and "carepath_consumer_lag" in scraped.text
    for _, path in sorted(PROBES):  # the probes stay open
        assert httpx.get(guarded_url + path, timeout=10).status_code in (200, 503), path


def test_production_refuses_a_weak_metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings(environment="production").metrics_token_list == []
    for weak in ("short", "dev-only-worker-token", f"{'m' * 30},tiny"):
        with pytest.raises(ValueError, match="CAREPATH_METRICS_TOKENS: every production token"):
            CommonSettings(environment="production", metrics_tokens=weak)
    monkeypatch.setenv("CAREPATH_METRICS_TOKENS", "m" * 24)
    assert CommonSettings(environment="production").metrics_token_list == ["m" * 24]


def test_a_handled_batch_sets_each_partitions_position_once_to_its_last_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAREPATH_ENVIRONMENT", "test")
    app = make_app(f"test-worker-pages-{next(_apps)}", CommonSettings(environment="test"), web_port=1)
    shell = WorkerShell(app, "position-test", ["clinical.events"])
    p0, p5 = TP("clinical.events", 0), TP("clinical.events", 5)
    batch = [SimpleNamespace(tp=tp, offset=o) for tp, o in [(p0, 7), (p5, 40), (p0, 9), (p0, 8), (p5, 41)]]
    assert shell.processed_batch(batch) == {p0: 9, p5: 41}

    def position(partition: str) -> float | None:
        labels = {"service": "position-test", "topic": "clinical.events", "partition": partition}
        return REGISTRY.get_sample_value("carepath_consumer_position", labels)

    assert (position("0"), position("5")) == (10.0, 42.0)  # the next offset to read
    shell.processed_batch([SimpleNamespace(tp=p0, offset=3)])  # an older offset never moves it back
    assert position("0") == 10.0
