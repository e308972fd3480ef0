"""The worklist page's routes over real HTTP, as a real process on a real broker: who may call what, the
session cookie, CSRF, bad input, and the development login refused in production.

followup and intake are not running here (their URLs answer nothing): the page says so rather than failing.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import pytest
from kafka import KafkaProducer

from carepath import envelope, topics
from carepath.resources import schemas_dir
from carepath_tools.broker import free_port
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo

pytestmark = pytest.mark.integration
METRICS_TOKEN = "metrics-token-for-the-worklist-test"
HTML = {"Accept": "text/html"}


def start_worklist(stack: Stack, name: str, env: dict[str, str]) -> Service:
    nowhere = f"http://127.0.0.1:{free_port()}"
    svc = stack.add(
        name,
        "worklist",
        "CAREPATH_WORKLIST_PORT",
        {"CAREPATH_WORKLIST_FOLLOWUP_URL": nowhere, "CAREPATH_WORKLIST_INTAKE_URL": nowhere} | env,
    )
    svc.start()
    svc.wait_ready(60)
    return svc


@pytest.fixture(scope="module")
def stack(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(log_dir=tmp_path_factory.mktemp("worklist"), bootstrap=broker.bootstrap, profile=broker.profile)
    s.start_broker()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def worklist(stack: Stack) -> str:
    return start_worklist(stack, "worklist", {"CAREPATH_METRICS_TOKENS": METRICS_TOKEN}).url


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def logged_in(url: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=10)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login/dev", data={"name": "Dr Route", "csrf": token, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return client, csrf_of(client.get("/", headers=HTML).text)


def test_probes_are_open_and_metrics_ask_for_their_token(worklist: str) -> None:
    assert httpx.get(f"{worklist}/healthz").status_code == 200
    ready = httpx.get(f"{worklist}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert httpx.get(f"{worklist}/metrics").status_code == 401
    metrics = httpx.get(f"{worklist}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200 and "carepath_worklist_live" in metrics.text


@pytest.mark.parametrize("path", ["/", "/rows", "/alerts/esc-1", "/patients/p-1", "/live"])
def test_anonymous_pages_redirect_to_the_login_and_the_rest_is_401(worklist: str, path: str) -> None:
    page = httpx.get(f"{worklist}{path}", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    assert httpx.get(f"{worklist}{path}").status_code == 401  # a script's request, not a browser page
    posted = httpx.post(f"{worklist}/alerts/esc-1/acknowledge", data={"role": "consultant"})
    assert posted.status_code == 401


def test_logged_in_with_a_signed_httponly_samesite_session(worklist: str) -> None:
    client = httpx.Client(base_url=worklist, timeout=10)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login/dev", data={"name": "Dr Route", "csrf": token, "next": "/alerts/x"})
    assert r.status_code == 303 and r.headers["location"] == "/alerts/x"
    cookie = SimpleCookie(r.headers["set-cookie"])["carepath_worklist"]
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    page = client.get("/", headers=HTML)
    assert page.status_code == 200
    assert "Logged in as <strong>Dr Route</strong>" in page.text
    assert "followup did not answer" in page.text  # said, not hidden
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # a forged cookie is no session
    forged = httpx.get(f"{worklist}/", headers=HTML, cookies={"carepath_worklist": "e30=.forged.sig"})
    assert forged.status_code == 303


def test_the_development_login_needs_the_login_pages_csrf_token_and_a_name(worklist: str) -> None:
    client = httpx.Client(base_url=worklist, timeout=10)
    token = csrf_of(client.get("/login").text)
    refused = client.post("/login/dev", data={"name": "Dr Route"})
    assert refused.status_code == 403 and "security token" in refused.text
    bad = client.post("/login/dev", data={"name": "<b>", "csrf": token})
    assert bad.status_code == 422 and "letters, digits" in bad.text
    assert client.get("/", headers=HTML).status_code == 303  # still not logged in


def test_acknowledging_without_the_sessions_csrf_token_is_refused(worklist: str) -> None:
    client, token = logged_in(worklist)
    for sent in ({}, {"csrf": "not-the-token"}):
        r = client.post("/alerts/esc-1/acknowledge", data={"role": "consultant"} | sent)
        assert r.status_code == 403 and "security token" in r.text
    other, _ = logged_in(worklist)
    assert (
        other.post("/alerts/esc-1/acknowledge", data={"role": "consultant", "csrf": token}).status_code == 403
    )
    r = client.post("/alerts/esc-1/acknowledge", data={"role": "consultant", "csrf": token})
    assert r.status_code == 404 and "No such escalation" in r.text  # past the CSRF check: unknown id
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert client.get("/", headers=HTML).status_code == 303


def test_bad_filters_are_named(worklist: str) -> None:
    client, _ = logged_in(worklist)
    r = client.get("/", params={"severity": "catastrophic"}, headers=HTML)
    assert r.status_code == 422 and "severity must be one of emergency, urgent, routine" in r.text
    r = client.get("/rows", params={"overdue": "maybe"}, headers=HTML)
    assert r.status_code == 422 and "overdue must be true or false" in r.text


def test_the_live_stream_says_whether_it_is_live(worklist: str) -> None:
    client, _ = logged_in(worklist)
    with client.stream("GET", "/live", timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        first = next(r.iter_lines())
        assert first == "event: status"


def test_the_development_login_is_refused_in_production(stack: Stack) -> None:
    long = "p" * 32
    svc = start_worklist(
        stack,
        "worklist-production",
        {
            "CAREPATH_ENVIRONMENT": "production",
            "CAREPATH_KAFKA_ALLOW_PLAINTEXT": "true",  # the test broker is plaintext on loopback
            "CAREPATH_FOLLOWUP_READ_TOKENS": long,
            "CAREPATH_INTAKE_ACK_TOKENS": long + "a",
            "CAREPATH_WORKLIST_SESSION_SECRET": long + "s",
            "CAREPATH_WORKLIST_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}",
            "CAREPATH_WORKLIST_OIDC_CLIENT_ID": "worklist",
            "CAREPATH_WORKLIST_OIDC_CLIENT_SECRET": long + "c",
        },
    )
    client = httpx.Client(base_url=svc.url, timeout=10)
    page = client.get("/login")
    assert "Development login" not in page.text and "hospital account" in page.text
    r = client.post("/login/dev", data={"name": "Dr Route"})  # no form here; refused before any check
    assert r.status_code == 403 and "not available" in r.text
    assert client.get("/", headers=HTML).status_code == 303
    # the identity provider is down: the login says so
    down = client.get("/login/oidc")
    assert down.status_code == 503 and "did not answer" in down.text
    svc.stop()


def test_acknowledging_a_held_alert_names_what_is_wrong_and_says_when_intake_is_away(
    worklist: str, broker: BrokerInfo
) -> None:
    rec = json.loads(
        (
            schemas_dir() / "examples" / "carepath.escalation.raised.v1" / "valid" / "r1-mscc-suspected.json"
        ).read_text()
    )
    esc_id = f"esc-{uuid.uuid4().hex[:16]}"
    rec["id"], rec["subject"] = f"{esc_id}.r1", f"route-{uuid.uuid4().hex[:6]}"
    rec["data"]["escalation_id"] = esc_id
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(topics.ESCALATIONS, key=rec["subject"].encode(), value=envelope.encode(rec)).get(timeout=10)
    producer.close()
    client, token = logged_in(worklist)
    deadline = time.monotonic() + 15
    while (page := client.get(f"/alerts/{esc_id}", headers=HTML)).status_code == 404:
        assert time.monotonic() < deadline, "the page never read the escalation"
        time.sleep(0.2)
    assert page.status_code == 200 and rec["data"]["reason"] in page.text
    assert "followup did not answer" in page.text
    form = {"csrf": token, "role": "consultant"}
    r = client.post(f"/alerts/{esc_id}/acknowledge", data=form | {"override": "on"})
    assert r.status_code == 422 and "an override needs a reason" in r.text
    r = client.post(f"/alerts/{esc_id}/acknowledge", data=form | {"role": "porter"})
    assert r.status_code == 422 and "choose the role" in r.text
    r = client.post(f"/alerts/{esc_id}/acknowledge", data=form | {"reason": "Seen."})
    assert r.status_code == 503 and "intake did not answer: nothing was stored" in r.text
