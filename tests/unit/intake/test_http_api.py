"""intake's HTTP behaviour over its in-memory publisher (the I/O seam): what a sender is told, and what is
stored. The same paths against a real broker and a real intake process are in tests/integration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from carepath import topics
from intake.app import create_app
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.unit.intake.support import AUTH, TOKEN, FixedClock

pytestmark = pytest.mark.unit


def pain(event_id: str = "e-1", patient: str = "p-1", **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:epr",
        "type": "carepath.pain.reported.v1",
        "subject": patient,
        "time": "2026-11-21T08:30:00Z",
        "data": {"nrs": 8, "site": ["thoracic"], **data},
    }


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher) -> Iterator[TestClient]:
    settings = IntakeSettings(CAREPATH_INTAKE_TOKENS=TOKEN, environment="test", max_request_bytes=64 * 1024)
    with TestClient(create_app(settings, publisher, FixedClock())) as c:
        yield c


def dlq(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]


def stored(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS]


def test_valid_event_is_stored_keyed_by_patient_then_accepted(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    r = client.post("/v1/events", json=pain(), headers=AUTH)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1
    [record] = publisher.records
    assert record.topic == topics.CLINICAL_EVENTS and record.key == b"p-1"
    assert orjson.loads(record.value)["id"] == "e-1"


def test_acknowledgement_goes_to_the_acknowledgement_topic(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    ack = {
        "specversion": "1.0",
        "id": "ack-1",
        "source": "urn:test:pager",
        "type": "carepath.escalation.acknowledged.v1",
        "subject": "p-1",
        "time": "2026-11-21T08:40:00Z",
        "data": {"target_id": "esc-1", "role": "acute_oncology"},
    }
    assert client.post("/v1/events", json=ack, headers=AUTH).status_code == 202
    assert [r.topic for r in publisher.records] == [topics.ACKNOWLEDGEMENTS]


def test_invalid_event_names_the_field_and_is_dead_lettered(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    r = client.post("/v1/events", json=pain(nrs=14), headers=AUTH)
    assert r.status_code == 422
    assert r.json()["field"] == "/data/nrs"
    assert "/data/nrs" in r.json()["error"]
    assert stored(publisher) == []
    [letter] = dlq(publisher)
    assert "/data/nrs" in letter["reason"] and letter["event_id"] == "e-1" and letter["channel"] == "http"
    assert orjson.loads(letter["raw"])["data"]["nrs"] == 14


def test_malformed_json_is_refused_and_dead_lettered(client: TestClient, publisher: MemoryPublisher) -> None:
    r = client.post(
        "/v1/events",
        content=b'{"specversion": "1.0", "id": ',
        headers=AUTH | {"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    [letter] = dlq(publisher)
    assert letter["raw"] == '{"specversion": "1.0", "id": '


def test_event_in_the_future_is_refused(client: TestClient, publisher: MemoryPublisher) -> None:
    event = pain() | {"time": "2026-11-22T09:00:00Z"}
    r = client.post("/v1/events", json=event, headers=AUTH)
    assert r.status_code == 422 and r.json()["field"] == "/time"
    assert stored(publisher) == [] and len(dlq(publisher)) == 1


def test_resubmitted_event_is_accepted_once_and_not_republished(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    assert client.post("/v1/events", json=pain(), headers=AUTH).status_code == 202
    again = client.post("/v1/events", json=pain(), headers=AUTH)
    assert again.status_code == 202 and again.json()["duplicates"] == 1 and again.json()["accepted"] == 0
    assert len(stored(publisher)) == 1


def test_reused_id_with_different_content_is_rejected(client: TestClient, publisher: MemoryPublisher) -> None:
    assert client.post("/v1/events", json=pain(), headers=AUTH).status_code == 202
    r = client.post("/v1/events", json=pain(nrs=3), headers=AUTH)
    assert r.status_code == 422 and r.json()["field"] == "/id"
    assert len(stored(publisher)) == 1


def test_batch_stores_the_valid_items_and_names_the_invalid_ones(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    batch = [pain("e-1"), pain("e-2", nrs=-1), pain("e-3", patient="p-2")]
    r = client.post("/v1/events", json=batch, headers=AUTH)
    assert r.status_code == 422
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["errors"][0]["field"] == "/data/nrs"
    assert [e["id"] for e in stored(publisher)] == ["e-1", "e-3"]
    assert len(dlq(publisher)) == 1


def test_broker_unavailable_answers_503_and_accepts_nothing(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    publisher.fail = True
    r = client.post("/v1/events", json=pain(), headers=AUTH)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    publisher.fail = False
    # The id was not remembered as stored: the sender's retry is accepted, not treated as a duplicate.
    retry = client.post("/v1/events", json=pain(), headers=AUTH)
    assert retry.status_code == 202 and retry.json()["accepted"] == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_events_need_a_valid_bearer_token(
    client: TestClient, publisher: MemoryPublisher, headers: dict[str, str]
) -> None:
    r = client.post("/v1/events", json=pain(), headers=headers)
    assert r.status_code == 401
    assert publisher.records == []


def test_health_needs_no_token_and_readiness_follows_the_broker(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_oversized_body_is_refused_before_reading(client: TestClient, publisher: MemoryPublisher) -> None:
    big = [pain(f"e-{i}", patient=f"p-{i}") for i in range(400)]
    r = client.post("/v1/events", json=big, headers=AUTH)
    assert r.status_code == 413
    assert publisher.records == []


def test_openapi_documents_the_event_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"]
    assert "CloudEvent" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_production_refuses_to_start_without_strong_tokens() -> None:
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_TOKENS"):
        IntakeSettings(environment="production")
    with pytest.raises(ValueError, match="24 characters"):
        IntakeSettings(environment="production", CAREPATH_INTAKE_TOKENS="short")
