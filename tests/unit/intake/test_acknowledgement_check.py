"""An acknowledgement is checked with followup without the patient id in any URL: intake asks
``GET /v1/targets/{target_id}`` with the patient in the ``X-Carepath-Patient-Id`` header, and followup's
workers ask each other the same way. URLs are printed by HTTP client and access logs; headers are not."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from carepath import auth
from carepath.resources import pathways_dir, schemas_dir
from followup import api as followup_api
from followup.core import PatientExpectations, advance, load_pathway, parse_input
from followup.settings import FollowupSettings
from intake.app import create_app
from intake.publisher import MemoryPublisher
from intake.routes import acknowledgements
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit

TOKEN = "test-token-test-token-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PATIENT = "MRN-9988776655"


class FixedClock:
    def now(self) -> datetime:
        return NOW


def test_intake_and_followup_name_the_same_header() -> None:
    assert acknowledgements.PATIENT_HEADER == followup_api.PATIENT_HEADER


# --- intake asking followup ---------------------------------------------------------------------------


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    """followup as a mock transport: every request intake makes is recorded and answered 200."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"known": True})

    real = httpx.AsyncClient

    def client(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        return real(*args, transport=httpx.MockTransport(answer), **kwargs)

    monkeypatch.setattr(acknowledgements.httpx, "AsyncClient", client)
    yield requests


@pytest.mark.parametrize("target", ["esc-r1-0a1b2c3d4e5f60718293", "f3-0a1b2c3d4e5f60718293.overdue.2"])
def test_the_patient_id_is_in_a_header_never_in_a_url_or_a_log_line(
    asked: list[httpx.Request], caplog: pytest.LogCaptureFixture, target: str
) -> None:
    settings = IntakeSettings(environment="test", CAREPATH_INTAKE_TOKENS=TOKEN)
    publisher = MemoryPublisher()
    body = {
        "patient_id": PATIENT,
        "target_id": target,
        "on_behalf_of": {"id": "staff-1", "role": "consultant"},
    }
    with (
        caplog.at_level(logging.DEBUG),
        # the client's own logger too: a service's logging configuration (applied by any worker started in
        # this process before) keeps it at warnings, and this test needs its request line
        caplog.at_level(logging.DEBUG, logger="httpx"),
        TestClient(create_app(settings, publisher, FixedClock())) as client,
    ):
        reply = client.post("/v1/acknowledgements", json=body, headers=auth.bearer(auth.DEV_ACK_TOKEN))
    assert reply.status_code == 202, reply.text
    [request] = asked
    assert request.url.path == f"/v1/targets/{target}"
    assert PATIENT not in str(request.url)
    assert request.headers[acknowledgements.PATIENT_HEADER] == PATIENT
    assert request.headers["authorization"] == f"Bearer {auth.DEV_WORKER_TOKEN}"
    assert [r for r in caplog.records if r.name.startswith("httpx")], "the client logged its request"
    assert not [r.getMessage() for r in caplog.records if PATIENT in r.getMessage()]
    assert len(publisher.records) == 1


# --- followup answering -------------------------------------------------------------------------------


class FakeShell:
    """What the API needs of a followup worker: one patient with one escalation, and its peers."""

    def __init__(self, owner: str | None = None) -> None:
        example = schemas_dir() / "examples" / "carepath.escalation.raised.v1" / "valid"
        self.escalation = json.loads(sorted(example.glob("*.json"))[0].read_text())
        pathway = load_pathway(pathways_dir() / "mscc")
        pid = self.escalation["subject"]
        self.exps = advance(
            PatientExpectations.empty(pid), parse_input(self.escalation), NOW, pathway
        ).expectations
        self.clock = FixedClock()
        self.own_url = "http://worker-1"
        self.owner = owner
        self.settings = FollowupSettings(environment="test")

    @property
    def patient_id(self) -> str:
        return str(self.escalation["subject"])

    @property
    def escalation_id(self) -> str:
        return str(self.escalation["data"]["escalation_id"])

    def patient(self, patient_id: str) -> PatientExpectations | None:
        return self.exps if patient_id == self.patient_id else None

    def local_patients(self) -> list[PatientExpectations]:
        return [self.exps]

    def worker_urls(self) -> list[str]:
        return [self.own_url]

    def owner_url(self, patient_id: str) -> str | None:
        return self.owner


def followup(shell: FakeShell) -> TestClient:
    app = FastAPI()
    followup_api.install(app, shell)  # type: ignore[arg-type]
    return TestClient(app)


WORKER = auth.bearer(auth.DEV_WORKER_TOKEN)


def test_followup_reads_the_patient_from_the_header() -> None:
    shell = FakeShell()
    client = followup(shell)
    header = {followup_api.PATIENT_HEADER: shell.patient_id, **WORKER}
    assert shell.exps.knows(shell.escalation_id)
    known = client.get(f"/v1/targets/{shell.escalation_id}", headers=header)
    assert known.status_code == 200 and known.json()["known"] is True
    assert client.get("/v1/targets/esc-unknown", headers=header).status_code == 404
    other = {followup_api.PATIENT_HEADER: "MRN-other", **WORKER}
    assert client.get(f"/v1/targets/{shell.escalation_id}", headers=other).status_code == 404


@pytest.mark.parametrize("patient", [None, "", "MRN 1", "MRN/1", "x" * 65])
def test_followup_refuses_a_missing_or_malformed_patient_header(patient: str | None) -> None:
    shell = FakeShell()
    headers = dict(WORKER) if patient is None else {followup_api.PATIENT_HEADER: patient, **WORKER}
    reply = followup(shell).get(f"/v1/targets/{shell.escalation_id}", headers=headers)
    assert reply.status_code == 422


def test_a_worker_asks_the_owning_worker_with_the_patient_in_a_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shell = FakeShell(owner="http://worker-2")
    seen: list[httpx.Request] = []

    def owner(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"escalations": [], "expectations": [], "known": True})

    real = httpx.AsyncClient
    monkeypatch.setattr(
        followup_api.httpx,
        "AsyncClient",
        lambda *a, **k: real(*a, transport=httpx.MockTransport(owner), **k),
    )
    reply = followup(shell).get(
        "/v1/targets/esc-on-worker-2", headers={followup_api.PATIENT_HEADER: PATIENT, **WORKER}
    )
    assert reply.status_code == 200, reply.text
    [request] = seen
    assert request.url.path == "/internal/patient" and PATIENT not in str(request.url)
    assert request.headers[followup_api.PATIENT_HEADER] == PATIENT
    assert request.headers["authorization"] == f"Bearer {auth.DEV_WORKER_TOKEN}"


# --- who may call followup ----------------------------------------------------------------------------

READER = auth.bearer(auth.DEV_READ_TOKEN)
ROUTES = [
    ("/v1/worklist", "reader"),
    ("/v1/patients/P1/worklist", "reader"),
    ("/v1/patients/P1/targets/esc-1", "reader"),
    ("/v1/targets/esc-1", "reader"),
    ("/internal/worklist", "worker"),
    ("/internal/patients/P1", "worker"),
    ("/internal/patient", "worker"),
]


@pytest.mark.parametrize(("path", "role"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_route_needs_a_token_of_its_role(path: str, role: str) -> None:
    client = followup(FakeShell())
    patient = {followup_api.PATIENT_HEADER: "P1"}
    assert client.get(path, headers=patient).status_code == 401  # anonymous
    assert client.get(path, headers={**patient, "Authorization": "Bearer not-a-token"}).status_code == 401
    assert (
        client.get(path, headers={**patient, "Authorization": f"Basic {auth.DEV_READ_TOKEN}"}).status_code
        == 401
    )
    as_reader = client.get(path, headers={**patient, **READER})
    as_worker = client.get(path, headers={**patient, **WORKER})
    if role == "worker":
        assert as_reader.status_code == 403  # a clinician's token may not call worker-to-worker routes
    else:
        assert as_reader.status_code in (200, 404)
    assert as_worker.status_code in (200, 404)


def test_production_refuses_to_start_without_its_tokens() -> None:
    with pytest.raises(ValueError, match="CAREPATH_FOLLOWUP_READ_TOKENS"):
        FollowupSettings(environment="production", CAREPATH_WORKER_TOKEN="w" * 30)
    with pytest.raises(ValueError, match="CAREPATH_WORKER_TOKEN"):
        FollowupSettings(environment="production", CAREPATH_FOLLOWUP_READ_TOKENS="r" * 30)
    with pytest.raises(ValueError, match="at least 24"):
        FollowupSettings(
            environment="production", CAREPATH_FOLLOWUP_READ_TOKENS="short", CAREPATH_WORKER_TOKEN="w" * 30
        )
    with pytest.raises(ValueError, match="CAREPATH_WORKER_TOKEN"):
        IntakeSettings(
            environment="production", CAREPATH_INTAKE_TOKENS="i" * 30, CAREPATH_INTAKE_ACK_TOKENS="a" * 30
        )
    ready = FollowupSettings(
        environment="production", CAREPATH_FOLLOWUP_READ_TOKENS="r" * 30, CAREPATH_WORKER_TOKEN="w" * 30
    )
    assert ready.reader_tokens == ["r" * 30] and ready.worker_tokens == ["w" * 30]
