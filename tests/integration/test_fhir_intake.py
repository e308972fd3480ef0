"""FHIR R4 into intake as a real process on a real broker: what a FHIR client is told matches what the
broker holds, and refused resources are on the dead-letter topic with the raw resource."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from carepath import topics
from carepath.auth import DEV_ACK_TOKEN, bearer
from carepath.contracts import validate_dlq_record, validate_event
from carepath_tools.broker import EmbeddedBroker
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.integration.test_intake_on_broker import start_intake
from tests.support.fhir import FHIR_JSON, bundle, cancer_condition, entry, lab_observation, pain_observation
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration
HEADERS = {"Authorization": f"Bearer {DEV_TOKEN}", "Content-Type": FHIR_JSON}


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log_dir = tmp_path_factory.mktemp("fhir-intake")
    svc = start_intake(broker.bootstrap, broker.profile, log_dir, CAREPATH_INTAKE_MLLP_PORT="0")
    yield svc
    svc.stop()


@pytest.fixture
def events(broker: BrokerInfo) -> Iterator[TopicReader]:
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    yield reader
    reader.close()


@pytest.fixture
def dlq(broker: BrokerInfo) -> Iterator[TopicReader]:
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_DLQ)
    yield reader
    reader.close()


def now() -> str:
    return datetime.now(UTC).isoformat()


def post(svc: Service, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{svc.url}{path}", content=orjson.dumps(body), headers=HEADERS, timeout=30)


def patient() -> str:
    return f"fhir-{time.time_ns()}"


def test_a_resource_is_on_the_topic_keyed_by_patient_once(intake: Service, events: TopicReader) -> None:
    p = patient()
    resource = pain_observation("pain-1", p, now())
    first = post(intake, "/fhir/Observation", resource)
    assert first.status_code == 201, first.text
    again = post(intake, "/fhir/Observation", resource)
    assert again.status_code == 200
    [event] = events.wait_for(lambda e: e.get("subject") == p)
    events.settle(0.5)
    assert len([e for e in events.records if e.get("subject") == p]) == 1
    assert event["id"] == "Observation/pain-1/_history/1" and validate_event(event) == []
    assert {k for k, v in events.raw if p.encode() in v} == {p.encode()}


def test_an_unlisted_code_is_422_and_dead_lettered_with_the_raw_resource(
    intake: Service, events: TopicReader, dlq: TopicReader
) -> None:
    p = patient()
    resource = lab_observation("na-1", p, now(), loinc="2951-2")  # sodium: not a test carepath reads
    response = post(intake, "/fhir/Observation", resource)
    assert response.status_code == 422
    issue = OperationOutcome.model_validate(response.json()).issue[0]
    assert issue.code == "code-invalid" and issue.expression == ["Observation.code"]
    [letter] = dlq.wait_for(lambda d: p in d.get("raw", ""))
    assert validate_dlq_record(letter) == [] and letter["channel"] == "fhir"
    assert orjson.loads(letter["raw"]) == resource and letter["errors"][0]["field"] == "/code"
    events.settle(0.5)
    assert not [e for e in events.records if e.get("subject") == p]


def test_a_batch_stores_the_entries_that_pass(intake: Service, events: TopicReader, dlq: TopicReader) -> None:
    p = patient()
    body = bundle(
        "batch",
        entry({"resourceType": "Patient", "id": p, "birthDate": "1958-07-02"}, "PUT", "urn:uuid:patient"),
        entry(cancer_condition("c-1", p, now(), subject={"reference": "urn:uuid:patient"})),
        entry(lab_observation("ca-1", p, now(), value=2.9)),
        entry(lab_observation("ca-2", p, now(), unit="mEq/L")),
    )
    response = post(intake, "/fhir", body)
    assert response.status_code == 200, response.text
    answer = Bundle.model_validate(response.json())
    assert [e.response.status for e in answer.entry] == ["201 Created"] * 3 + ["422 Unprocessable Entity"]
    stored = events.wait_for(lambda e: e.get("subject") == p, count=3)
    assert sorted(e["type"] for e in stored) == [
        "carepath.diagnosis.recorded.v1",
        "carepath.diagnosis.recorded.v1",
        "carepath.lab.resulted.v1",
    ]
    dlq.wait_for(lambda d: p in d.get("raw", "") and "mEq/L" in d.get("reason", ""))


def test_a_failing_transaction_stores_nothing(intake: Service, events: TopicReader) -> None:
    p = patient()
    body = bundle(
        "transaction",
        entry(cancer_condition("c-1", p, now())),
        entry(pain_observation("pain-1", p, now(), nrs=12)),
    )
    response = post(intake, "/fhir", body)
    assert response.status_code == 422
    issue = OperationOutcome.model_validate(response.json()).issue[0]
    assert issue.expression == ["Bundle.entry[1].resource.valueInteger"]
    events.settle(1.0)
    assert not [e for e in events.records if e.get("subject") == p]


def test_broker_down_means_503_operation_outcome(tmp_path: Path) -> None:
    own = EmbeddedBroker().start()
    svc = start_intake(
        own.bootstrap,
        "embedded",
        tmp_path,
        CAREPATH_INTAKE_PUBLISH_TIMEOUT_S="2",
        CAREPATH_INTAKE_MLLP_PORT="0",
    )
    try:
        assert post(svc, "/fhir/Observation", pain_observation("up", "p-up", now())).status_code == 201
        own.stop()
        down = post(svc, "/fhir/Observation", pain_observation("down", "p-down", now()))
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert OperationOutcome.model_validate(down.json()).issue[0].code == "transient"
    finally:
        svc.stop()
        own.stop()


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 4 * 1024 * 1024 + 512 * 1024], ids=["2MiB", "4.5MiB"])
def test_a_large_refused_resource_is_4xx_and_dead_lettered_never_503(
    intake: Service, dlq: TopicReader, size: int
) -> None:
    """The dead-letter record keeps the first bytes with the length and digest, so it always fits one
    record: the sender of content that can never be accepted is never told to retry."""
    p = patient()
    resource = lab_observation(f"big-{p}", p, now(), loinc="2951-2")  # sodium: refused whatever its size
    resource["note"] = [{"text": "x" * size}]
    raw = orjson.dumps(resource)
    response = httpx.post(f"{intake.url}/fhir/Observation", content=raw, headers=HEADERS, timeout=60)
    assert response.status_code in (400, 422), response.text[:300]
    assert OperationOutcome.model_validate(response.json()).issue[0].severity == "error"
    [letter] = dlq.wait_for(lambda d: f"big-{p}" in d.get("raw", ""))
    assert validate_dlq_record(letter) == [] and letter["channel"] == "fhir"
    assert letter["raw_truncated"] is True and letter["raw_length"] == len(raw)


def _connection(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_after_each_refused_input_the_same_connection_serves_the_next_request(intake: Service) -> None:
    """Inputs that once ended in a 5xx (and a reset keep-alive connection) are refused 4xx, and the
    connection they came on carries on: the next, valid request on it is stored."""
    p = patient()
    deep = b"[" * 300 + b"]" * 300
    wrong_url = bundle("transaction", entry(pain_observation("w-1", p, now())))
    wrong_url["entry"][0]["request"]["url"] = {"reference": "Observation"}
    contained = {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "subject": {"reference": f"Patient/{p}"},
        "effectiveDateTime": now(),
        "medicationReference": {"reference": "#med"},
        "contained": [{"resourceType": "NoSuchType", "id": "med"}],
    }
    refused: list[tuple[str, bytes, str]] = [
        ("/v1/events", deep, "application/json"),
        ("/fhir/Observation", b'{"resourceType": "Observation", "note": ' + deep + b"}", FHIR_JSON),
        ("/v1/events", b'{"id": "a", "id": "b"}', "application/json"),
        ("/v1/events", b'{"id": "a"}', "text/plain"),
        ("/fhir", orjson.dumps(wrong_url), FHIR_JSON),
        ("/fhir/MedicationAdministration", orjson.dumps(contained), FHIR_JSON),
        (
            "/v1/acknowledgements",
            orjson.dumps({"patient_id": p, "target_id": "esc-1\x00\r\n", "role": "consultant"}),
            "application/json",
        ),
    ]
    auth = {"Authorization": HEADERS["Authorization"]}
    with httpx.Client(base_url=intake.url, headers=auth, timeout=30) as client:
        first = client.post(
            "/fhir/Observation",
            content=orjson.dumps(pain_observation("k-0", p, now())),
            headers={"Content-Type": FHIR_JSON},
        )
        assert first.status_code == 201, first.text
        connection = _connection(first)
        for index, (path, body, content_type) in enumerate(refused, start=1):
            # an acknowledgement is a clinician system's to send (an engine's token is a 403 there)
            who = bearer(DEV_ACK_TOKEN) if path == "/v1/acknowledgements" else {}
            bad = client.post(path, content=body, headers={"Content-Type": content_type, **who})
            assert bad.status_code not in (401, 403), (path, bad.text[:200])
            assert 400 <= bad.status_code < 500, (path, bad.status_code, bad.text[:200])
            good = client.post(
                "/fhir/Observation",
                content=orjson.dumps(pain_observation(f"k-{index}", p, now())),
                headers={"Content-Type": FHIR_JSON},
            )
            assert good.status_code == 201, (path, good.text[:200])
            assert _connection(bad) == _connection(good) == connection, path


ENGINE = {"Authorization": f"Bearer {DEV_TOKEN}"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        ("GET", "/fhir/Observation/obs-1/_history/1", ENGINE, b"", 404, "not-found"),
        ("GET", "/fhir/Observation", ENGINE, b"", 405, "not-supported"),
        ("DELETE", "/fhir/Observation/obs-1", ENGINE, b"", 405, "not-supported"),
        ("PATCH", "/fhir/metadata", ENGINE, b"{}", 405, "not-supported"),
        ("POST", "/fhir/Observation", {"Content-Type": FHIR_JSON}, b"{}", 401, "login"),
        (
            "POST",
            "/fhir/Observation",
            {**bearer(DEV_ACK_TOKEN), "Content-Type": FHIR_JSON},
            b"{}",
            403,
            "forbidden",
        ),
        ("POST", "/fhir/Observation", {**ENGINE, "Content-Type": "text/plain"}, b"{}", 415, "not-supported"),
        ("POST", "/fhir/Observation", {**ENGINE, "Content-Type": FHIR_JSON}, b"{not json", 400, None),
    ],
)
def test_every_error_under_fhir_is_an_operation_outcome(
    intake: Service,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    code: str | None,
) -> None:
    response = httpx.request(method, f"{intake.url}{path}", content=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    outcome = OperationOutcome.model_validate_json(response.content)  # a valid R4 OperationOutcome
    assert outcome.issue and all(issue.severity == "error" and issue.diagnostics for issue in outcome.issue)
    if code is not None:
        assert outcome.issue[0].code == code
    if status == 405:
        assert response.headers["allow"]  # which methods the URL takes
    assert "obs-1" not in response.text  # the answer does not echo the URL


def test_errors_outside_fhir_keep_their_json_shape(intake: Service) -> None:
    response = httpx.get(f"{intake.url}/v1/nothing-here", headers=ENGINE, timeout=30)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
