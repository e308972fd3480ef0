"""PUT /fhir/{type}/{id} and GET /fhir/metadata through the real app.

PUT reads and stores a resource as POST /fhir/{type} does: 201 the first time an id and meta.versionId is
stored, 200 for a resend (published once), a new versionId is a new event. The body's id must be the URL's
(400 naming ``id``, dead-lettered). The CapabilityStatement lists exactly the types carepath reads, each with
create and update, and like every route but the health probes it needs the bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from carepath import topics
from carepath.contracts import validate_event
from intake.fhir.resources import SUPPORTED
from intake.publisher import MemoryPublisher
from tests.support.fhir import CARE_STEP, FHIR_JSON, concept, pain_observation
from tests.unit.intake.support import AUTH, NOW, served

pytestmark = pytest.mark.unit

HEADERS = {**AUTH, "Content-Type": FHIR_JSON}
PATIENT = "NGH1000012"
# A pain score as the ward's integration engine sends it (PUT Observation/{id}, versionId 1).
PAIN = pain_observation("ngh-obs-72514-0412", PATIENT, "2026-11-21T08:30:00+00:00")
PAIN_EVENT_ID = "Observation/ngh-obs-72514-0412/_history/1"
# A care step done, in carepath's own care-step codes.
CONTACTED: dict[str, Any] = {
    "resourceType": "Task",
    "id": "ngh-task-5521",
    "meta": {"versionId": "3"},
    "status": "completed",
    "intent": "order",
    "code": concept(CARE_STEP, "mscc_coordinator_contacted", "MSCC coordinator contacted"),
    "for": {"reference": f"Patient/{PATIENT}"},
    "authoredOn": "2026-11-21T08:40:00+00:00",
    "executionPeriod": {"end": "2026-11-21T08:50:00+00:00"},
}
ENCOUNTER: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "ngh-enc-88",
    "meta": {"versionId": "1"},
    "status": "in-progress",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "subject": {"reference": f"Patient/{PATIENT}"},
}


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher) -> Iterator[TestClient]:
    with served(publisher) as c:
        yield c


def put(client: TestClient, body: Any, path: str | None = None, headers: dict[str, str] = HEADERS) -> Any:
    if path is None:
        path = f"/fhir/{body['resourceType']}/{body['id']}"
    response = client.put(path, content=orjson.dumps(body), headers=headers)
    assert response.headers["content-type"].startswith(FHIR_JSON)
    return response


def post(client: TestClient, body: Any, path: str) -> Any:
    return client.post(path, content=orjson.dumps(body), headers=HEADERS)


def outcome(response: Any) -> OperationOutcome:
    return OperationOutcome.model_validate(response.json())


def stored(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    events = [orjson.loads(r.value) for r in publisher.records if r.topic != topics.CLINICAL_EVENTS_DLQ]
    for event in events:
        assert validate_event(event) == [], event
    return events


def dead_letters(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]


def with_(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = orjson.loads(orjson.dumps(resource))
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    assert isinstance(out, dict)
    return out


# --- PUT stores as POST does ----------------------------------------------------------------------------


def test_put_creates_the_event_post_would(client: TestClient, publisher: MemoryPublisher) -> None:
    response = put(client, PAIN)
    assert response.status_code == 201, response.text
    [note] = outcome(response).issue
    assert note.severity == "information"
    assert note.diagnostics == f"stored as carepath event {PAIN_EVENT_ID} (carepath.pain.reported.v1)"
    [event] = stored(publisher)
    assert (event["id"], event["type"], event["subject"]) == (
        PAIN_EVENT_ID,
        "carepath.pain.reported.v1",
        PATIENT,
    )
    assert event["time"] == "2026-11-21T08:30:00.000Z" and event["data"]["nrs"] == 8

    posted = MemoryPublisher()
    with served(posted) as other:
        assert post(other, PAIN, "/fhir/Observation").status_code == 201
    assert [(r.topic, r.key, r.value) for r in publisher.records] == [
        (r.topic, r.key, r.value) for r in posted.records
    ]


def test_put_of_a_task_records_the_care_step(client: TestClient, publisher: MemoryPublisher) -> None:
    response = put(client, CONTACTED)
    assert response.status_code == 201, response.text
    [event] = stored(publisher)
    assert event["id"] == "Task/ngh-task-5521/_history/3"
    assert event["type"] == "carepath.care_step.recorded.v1"
    assert event["data"] == {"step": "mscc_coordinator_contacted"}


def test_a_resend_is_200_and_published_once(client: TestClient, publisher: MemoryPublisher) -> None:
    assert put(client, PAIN).status_code == 201
    again = put(client, PAIN)
    assert again.status_code == 200, again.text
    [note] = outcome(again).issue
    assert note.diagnostics == (
        f"already stored as carepath event {PAIN_EVENT_ID} (carepath.pain.reported.v1): not stored again"
    )
    assert len(publisher.records) == 1 and dead_letters(publisher) == []


def test_a_put_after_a_post_of_the_same_version_is_a_resend(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    assert post(client, PAIN, "/fhir/Observation").status_code == 201
    assert put(client, PAIN).status_code == 200
    assert [e["id"] for e in stored(publisher)] == [PAIN_EVENT_ID]


def test_a_new_version_id_is_a_new_event(client: TestClient, publisher: MemoryPublisher) -> None:
    assert put(client, PAIN).status_code == 201
    second = with_(PAIN, meta={"versionId": "2"}, valueInteger=9)
    response = put(client, second)
    assert response.status_code == 201, response.text
    assert [(e["id"], e["data"]["nrs"]) for e in stored(publisher)] == [
        (PAIN_EVENT_ID, 8),
        ("Observation/ngh-obs-72514-0412/_history/2", 9),
    ]


# --- the body's id is the URL's -------------------------------------------------------------------------


def test_a_body_id_other_than_the_url_is_400_naming_id_and_dead_lettered(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    response = put(client, PAIN, "/fhir/Observation/ngh-obs-72514-0413")
    assert response.status_code == 400, response.text
    [issue] = outcome(response).issue
    assert (issue.severity, issue.code, issue.expression) == ("error", "structure", ["Observation.id"])
    assert "'ngh-obs-72514-0412'" in issue.diagnostics and "'ngh-obs-72514-0413'" in issue.diagnostics
    assert stored(publisher) == []
    [letter] = dead_letters(publisher)
    assert letter["channel"] == "fhir" and letter["errors"][0]["field"] == "/id"
    assert "Observation.id" in letter["reason"]
    assert orjson.loads(letter["raw"]) == PAIN


def test_a_body_without_id_is_400(client: TestClient, publisher: MemoryPublisher) -> None:
    response = put(client, with_(PAIN, id=None), f"/fhir/Observation/{PAIN['id']}")
    assert response.status_code == 400, response.text
    [issue] = outcome(response).issue
    assert (issue.code, issue.expression) == ("required", ["Observation.id"])
    assert "required: the resource's id" in issue.diagnostics
    assert stored(publisher) == []
    [letter] = dead_letters(publisher)
    assert letter["errors"][0]["field"] == "/id"


def test_a_body_of_another_type_than_the_url_is_400(client: TestClient, publisher: MemoryPublisher) -> None:
    response = put(client, with_(PAIN, id=CONTACTED["id"]), f"/fhir/Task/{CONTACTED['id']}")
    assert response.status_code == 400
    [issue] = outcome(response).issue
    assert issue.expression == ["Task.resourceType"] and "'Observation'" in issue.diagnostics
    assert stored(publisher) == [] and len(dead_letters(publisher)) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (ENCOUNTER, "/fhir/Encounter/ngh-enc-88"),
        (with_(ENCOUNTER, id=None), "/fhir/Encounter/ngh-enc-88"),
        (ENCOUNTER, "/fhir/Encounter/ngh-enc-89"),
    ],
    ids=["same-id", "no-id", "other-id"],
)
def test_put_of_an_unsupported_type_is_refused_as_post_refuses_it(
    client: TestClient, publisher: MemoryPublisher, body: dict[str, Any], path: str
) -> None:
    posted = post(client, body, "/fhir/Encounter")
    response = put(client, body, path)
    assert (response.status_code, response.json()) == (posted.status_code, posted.json())
    assert response.status_code == 422
    [issue] = outcome(response).issue
    assert issue.code == "not-supported" and "'Encounter' is not one carepath reads" in issue.diagnostics
    assert stored(publisher) == []
    assert len(dead_letters(publisher)) == 2  # the POST's and the PUT's


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": FHIR_JSON}, {"Content-Type": FHIR_JSON, "Authorization": "Bearer not-the-token"}],
    ids=["none", "wrong"],
)
def test_put_without_the_token_is_401(
    client: TestClient, publisher: MemoryPublisher, headers: dict[str, str]
) -> None:
    response = put(client, PAIN, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    [issue] = outcome(response).issue
    assert issue.code == "login" and issue.diagnostics == "missing or invalid bearer token"
    assert publisher.records == []


# --- GET /fhir/metadata ---------------------------------------------------------------------------------


def test_metadata_lists_exactly_the_supported_types(client: TestClient) -> None:
    response = client.get("/fhir/metadata", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    statement = CapabilityStatement.model_validate(response.json())
    assert statement.fhirVersion == "4.0.1"
    assert (statement.status, statement.kind, statement.format) == ("active", "instance", ["json"])
    assert str(statement.date) == NOW.date().isoformat()
    [rest] = statement.rest
    assert rest.mode == "server"
    types = [r.type for r in rest.resource]
    assert sorted(types) == sorted(SUPPORTED) and len(types) == len(set(types))
    for resource in rest.resource:
        assert sorted(i.code for i in resource.interaction) == ["create", "update"], resource.type
        assert resource.updateCreate is True
    assert sorted(i.code for i in rest.interaction) == ["batch", "transaction"]


def test_every_listed_type_is_one_put_reads(client: TestClient, publisher: MemoryPublisher) -> None:
    """The statement and the endpoint agree: no listed type is refused as not supported."""
    statement = client.get("/fhir/metadata", headers=AUTH).json()
    for listed in statement["rest"][0]["resource"]:
        rtype = listed["type"]
        response = put(client, {"resourceType": rtype, "id": "probe-1"}, f"/fhir/{rtype}/probe-1")
        assert response.status_code in (400, 422), (rtype, response.text)
        assert all(i.code != "not-supported" for i in outcome(response).issue), (rtype, response.text)
    assert stored(publisher) == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}]
)
def test_metadata_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/fhir/metadata", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(FHIR_JSON)
    [issue] = outcome(response).issue
    assert issue.code == "login" and issue.diagnostics == "missing or invalid bearer token"
