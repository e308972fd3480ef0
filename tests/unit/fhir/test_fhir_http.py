"""intake's FHIR endpoints over the in-memory publisher: every answer is valid FHIR R4 (an OperationOutcome
or a response Bundle), refused resources are dead-lettered with the raw resource, and nothing is answered
2xx unless it was stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from carepath import topics
from carepath.contracts import validate_dlq_record, validate_event
from intake.app import create_app
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.support.fhir import FHIR_JSON, bundle, cancer_condition, entry, lab_observation, pain_observation

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
WHEN = "2026-11-21T08:30:00Z"
TOKEN = "test-token-test-token-test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": FHIR_JSON}


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher) -> Iterator[TestClient]:
    settings = IntakeSettings(
        CAREPATH_INTAKE_TOKENS=TOKEN, environment="test", max_request_bytes=256 * 1024, max_batch=5
    )
    with TestClient(create_app(settings, publisher, FixedClock())) as c:
        yield c


def post(client: TestClient, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    response = client.post(path, content=orjson.dumps(body), headers=headers or HEADERS)
    assert response.headers["content-type"].startswith(FHIR_JSON)
    return response


def outcome(response: Any) -> OperationOutcome:
    return OperationOutcome.model_validate(response.json())  # every error answer is a valid R4 resource


def events(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS]


def dlq(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    letters = [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]
    for letter in letters:
        assert validate_dlq_record(letter) == [], letter
        assert letter["channel"] == "fhir"
    return letters


def test_a_pain_observation_is_stored_then_answered_201(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    response = post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", WHEN))
    assert response.status_code == 201, response.text
    assert "Observation/pain-1/_history/1" in outcome(response).issue[0].diagnostics
    [event] = events(publisher)
    assert validate_event(event) == []
    assert publisher.records[0].key == b"MRN-1"


def test_resending_the_same_version_is_a_duplicate(client: TestClient, publisher: MemoryPublisher) -> None:
    resource = pain_observation("pain-1", "MRN-1", WHEN)
    assert post(client, "/fhir/Observation", resource).status_code == 201
    again = post(client, "/fhir/Observation", resource)
    assert again.status_code == 200 and "already stored" in outcome(again).issue[0].diagnostics
    assert len(events(publisher)) == 1
    newer = post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", WHEN, nrs=9, version="2"))
    assert newer.status_code == 201 and len(events(publisher)) == 2


def test_same_version_with_other_content_is_a_conflict(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    assert post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", WHEN)).status_code == 201
    changed = post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", WHEN, nrs=3))
    assert changed.status_code == 422
    issue = outcome(changed).issue[0]
    assert issue.code == "conflict" and issue.expression == ["Observation.meta.versionId"]
    assert len(events(publisher)) == 1 and len(dlq(publisher)) == 1


def test_an_unlisted_code_is_422_naming_it_and_dead_lettered(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    resource = lab_observation("ca-1", "MRN-1", WHEN, loinc="2951-2", unit="mmol/L")  # sodium
    response = post(client, "/fhir/Observation", resource)
    assert response.status_code == 422
    issue = outcome(response).issue[0]
    assert issue.code == "code-invalid" and issue.expression == ["Observation.code"]
    assert "http://loinc.org|2951-2" in issue.diagnostics
    [letter] = dlq(publisher)
    assert letter["errors"][0]["field"] == "/code" and orjson.loads(letter["raw"]) == resource
    assert events(publisher) == []


def test_a_contract_error_is_reported_at_the_fhir_element(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    response = post(client, "/fhir/Observation", lab_observation("ca-1", "MRN-1", WHEN, value=50))
    assert response.status_code == 422
    assert outcome(response).issue[0].expression == ["Observation.valueQuantity.value"]
    assert dlq(publisher)[0]["errors"][0]["field"] == "/valueQuantity/value"


def test_invalid_r4_is_400_with_each_failing_element(client: TestClient, publisher: MemoryPublisher) -> None:
    resource = pain_observation("pain-1", "MRN-1", WHEN, status=7, colour="red")
    response = post(client, "/fhir/Observation", resource)
    assert response.status_code == 400
    expressions = {e for i in outcome(response).issue for e in i.expression or []}
    assert {"Observation.status", "Observation.colour"} <= expressions
    assert len(dlq(publisher)) == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/fhir/Observation", b"{not json", 400),
        ("/fhir/Observation", cancer_condition("c-1", "MRN-1", WHEN), 400),  # resourceType is not the path's
        ("/fhir/Encounter", {"resourceType": "Encounter", "id": "e", "status": "finished"}, 422),
    ],
)
def test_unreadable_requests_are_refused_and_dead_lettered(
    client: TestClient, publisher: MemoryPublisher, path: str, body: Any, status: int
) -> None:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    response = client.post(path, content=raw, headers=HEADERS)
    assert response.status_code == status
    outcome(response)
    assert len(dlq(publisher)) == 1 and events(publisher) == []


def test_a_future_time_is_refused(client: TestClient, publisher: MemoryPublisher) -> None:
    response = post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", "2026-11-22T09:00:00Z"))
    assert response.status_code == 422
    assert outcome(response).issue[0].expression == ["Observation.effectiveDateTime"]


def test_a_batch_stores_what_passes_and_answers_per_entry(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    body = bundle(
        "batch",
        entry({"resourceType": "Patient", "id": "MRN-1", "birthDate": "1961-03-14"}, "PUT", "urn:uuid:p1"),
        entry(cancer_condition("c-1", "MRN-1", WHEN, subject={"reference": "urn:uuid:p1"})),
        entry(lab_observation("ca-1", "MRN-1", WHEN, unit="mg/dl")),
        entry(pain_observation("pain-1", "MRN-1", WHEN, valueInteger="x")),
    )
    response = post(client, "/fhir", body)
    assert response.status_code == 200, response.text
    answer = Bundle.model_validate(response.json())
    assert answer.type == "batch-response"
    assert [e.response.status for e in answer.entry] == [
        "201 Created",
        "201 Created",
        "422 Unprocessable Entity",
        "400 Bad Request",
    ]
    assert answer.entry[2].response.outcome.issue[0].expression == [
        "Bundle.entry[2].resource.valueQuantity.code"
    ]
    assert answer.entry[3].response.outcome.issue[0].expression == ["Bundle.entry[3].resource.valueInteger"]
    stored = events(publisher)
    assert [e["type"] for e in stored] == ["carepath.diagnosis.recorded.v1"] * 2
    assert {e["subject"] for e in stored} == {"MRN-1"}
    assert len(dlq(publisher)) == 2


def test_a_transaction_with_a_bad_entry_stores_nothing(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    body = bundle(
        "transaction",
        entry(cancer_condition("c-1", "MRN-1", WHEN)),
        entry(lab_observation("ca-1", "MRN-1", WHEN, unit="mg/dl")),
    )
    response = post(client, "/fhir", body)
    assert response.status_code == 422
    issues = outcome(response).issue
    assert issues[0].expression == ["Bundle.entry[1].resource.valueQuantity.code"]
    assert "nothing was stored" in issues[-1].diagnostics
    assert events(publisher) == [] and len(dlq(publisher)) == 1


def test_a_good_transaction_is_stored_whole(client: TestClient, publisher: MemoryPublisher) -> None:
    body = bundle(
        "transaction",
        entry(cancer_condition("c-1", "MRN-1", WHEN)),
        entry(pain_observation("pain-1", "MRN-1", WHEN)),
    )
    response = post(client, "/fhir", body)
    assert response.status_code == 200
    answer = Bundle.model_validate(response.json())
    assert answer.type == "transaction-response"
    assert [e.response.status for e in answer.entry] == ["201 Created", "201 Created"]
    assert len(events(publisher)) == 2
    again = Bundle.model_validate(post(client, "/fhir", body).json())
    assert [e.response.status for e in again.entry] == ["200 OK", "200 OK"]
    assert len(events(publisher)) == 2


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (bundle("collection", entry(cancer_condition("c-1", "MRN-1", WHEN))), "Bundle.type"),
        (cancer_condition("c-1", "MRN-1", WHEN), "Bundle.resourceType"),
        (
            bundle(
                "batch",
                {
                    "resource": cancer_condition("c-1", "MRN-1", WHEN),
                    "request": {"method": "DELETE", "url": "x"},
                },
            ),
            "Bundle.entry[0].request.method",
        ),
    ],
)
def test_bundle_problems_name_the_element(client: TestClient, body: Any, expression: str) -> None:
    response = post(client, "/fhir", body)
    if response.status_code == 200:  # a batch answers per entry
        issue = Bundle.model_validate(response.json()).entry[0].response.outcome.issue[0]
    else:
        issue = outcome(response).issue[0]
    assert issue.expression == [expression]


def test_too_many_entries_is_413(client: TestClient) -> None:
    body = bundle("batch", *(entry(pain_observation(f"p-{i}", "MRN-1", WHEN)) for i in range(6)))
    response = post(client, "/fhir", body)
    assert response.status_code == 413 and outcome(response).issue[0].code == "too-costly"


def test_broker_down_is_503_and_nothing_is_answered_stored(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    publisher.fail = True
    response = post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", WHEN))
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert outcome(response).issue[0].code == "transient"
    batch = post(client, "/fhir", bundle("batch", entry(pain_observation("pain-2", "MRN-1", WHEN))))
    assert batch.status_code == 503
    publisher.fail = False
    assert post(client, "/fhir/Observation", pain_observation("pain-1", "MRN-1", WHEN)).status_code == 201


def test_a_bearer_token_is_required(client: TestClient, publisher: MemoryPublisher) -> None:
    response = post(
        client, "/fhir/Observation", pain_observation("p", "MRN-1", WHEN), {"Content-Type": FHIR_JSON}
    )
    assert response.status_code == 401 and outcome(response).issue[0].code == "login"
    assert response.headers["www-authenticate"] == "Bearer"
    assert publisher.records == []


def test_only_fhir_json_is_accepted(client: TestClient) -> None:
    headers = {**HEADERS, "Content-Type": "application/fhir+xml"}
    response = post(client, "/fhir/Observation", pain_observation("p", "MRN-1", WHEN), headers)
    assert response.status_code == 415 and outcome(response).issue[0].code == "not-supported"


def test_openapi_documents_the_fhir_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/fhir" in paths and "/fhir/{resource_type}" in paths


def test_a_malformed_site_code_map_refuses_to_start(tmp_path: Any) -> None:
    site = tmp_path / "codes.yaml"
    site.write_text("labs:\n  - {system: loinc, code: '1', test: sodium}\n")
    settings = IntakeSettings(CAREPATH_INTAKE_TOKENS=TOKEN, environment="test", CAREPATH_FHIR_CODES=str(site))
    with pytest.raises(SystemExit, match="test 'sodium'"):
        create_app(settings, MemoryPublisher(), FixedClock())
