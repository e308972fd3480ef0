"""Every refusal is recorded: what intake read and refused is on the dead-letter topic with the reason,
and a body refused before it was read (over CAREPATH_INTAKE_MAX_REQUEST_BYTES) is counted per channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from carepath import topics
from carepath.contracts import validate_dlq_record
from intake.publisher import MemoryPublisher
from tests.support.fhir import FHIR_JSON, bundle, entry, pain_observation
from tests.unit.intake.support import AUTH, served

pytestmark = pytest.mark.unit

WHEN = "2026-11-21T08:30:00Z"


@pytest.fixture
def app() -> Iterator[tuple[TestClient, MemoryPublisher]]:
    publisher = MemoryPublisher()
    with served(
        publisher, CAREPATH_INTAKE_MAX_BATCH=3, CAREPATH_INTAKE_MAX_REQUEST_BYTES=64 * 1024
    ) as client:
        yield client, publisher


def dead_letters(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    letters = [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]
    assert all(validate_dlq_record(letter) == [] for letter in letters)
    return letters


def pain(index: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"b-{index}",
        "source": "urn:test:epr",
        "type": "carepath.pain.reported.v1",
        "subject": "p-1",
        "time": WHEN,
        "data": {"nrs": 3, "site": ["lumbar"]},
    }


def too_large(channel: str) -> float:
    value = REGISTRY.get_sample_value(
        "carepath_intake_events_rejected_total", {"channel": channel, "reason": "too_large"}
    )
    return value or 0.0


def test_a_batch_over_the_maximum_is_413_and_dead_lettered(app: tuple[TestClient, MemoryPublisher]) -> None:
    client, publisher = app
    reply = client.post("/v1/events", json=[pain(i) for i in range(4)], headers=AUTH)
    assert reply.status_code == 413 and "maximum of 3" in reply.json()["detail"]
    [letter] = dead_letters(publisher)
    assert "maximum of 3" in letter["reason"] and letter["channel"] == "http"
    assert len(orjson.loads(letter["raw"])) == 4
    assert not [r for r in publisher.records if r.topic != topics.CLINICAL_EVENTS_DLQ]


def test_a_bundle_over_the_maximum_is_413_and_dead_lettered(app: tuple[TestClient, MemoryPublisher]) -> None:
    client, publisher = app
    doc = bundle("batch", *(entry(pain_observation(f"o-{i}", "p-1", WHEN)) for i in range(4)))
    reply = client.post("/fhir", content=orjson.dumps(doc), headers=AUTH | {"Content-Type": FHIR_JSON})
    assert reply.status_code == 413 and reply.json()["resourceType"] == "OperationOutcome"
    [letter] = dead_letters(publisher)
    assert "maximum of 3" in letter["reason"] and letter["channel"] == "fhir"
    assert not [r for r in publisher.records if r.topic != topics.CLINICAL_EVENTS_DLQ]


@pytest.mark.parametrize(
    ("path", "content_type", "channel"),
    [("/v1/events", "application/json", "http"), ("/fhir/Observation", FHIR_JSON, "fhir")],
)
def test_a_body_over_the_byte_limit_is_413_counted_on_its_channel_and_not_read(
    app: tuple[TestClient, MemoryPublisher], path: str, content_type: str, channel: str
) -> None:
    client, publisher = app
    before = too_large(channel)
    body = b'{"padding": "' + b"x" * (70 * 1024) + b'"}'
    reply = client.post(path, content=body, headers=AUTH | {"Content-Type": content_type})
    assert reply.status_code == 413
    assert too_large(channel) == before + 1
    assert publisher.records == []  # never read, so nothing of it to keep
