"""Classes of input that once answered 5xx with nothing recorded, each answered now with a specific 4xx
and kept on the dead-letter topic: JSON nested deeper than any event needs, and FHIR content whose fields
have the wrong JSON type anywhere (an object where a string belongs, a list where a code belongs)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from carepath import topics
from intake.limits import MAX_JSON_DEPTH, json_too_deep
from intake.publisher import MemoryPublisher
from tests.support.fhir import FHIR_JSON, bundle, cancer_condition, entry, pain_observation
from tests.unit.intake.support import AUTH, served

pytestmark = pytest.mark.unit


@pytest.fixture
def app() -> Iterator[tuple[TestClient, MemoryPublisher]]:
    publisher = MemoryPublisher()
    with served(publisher) as client:
        yield client, publisher


def dead_letters(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ('{"a": [1, {"b": 2}]}', False),
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, False),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), True),
        ('{"note": "' + "[" * 500 + '"}', False),  # brackets inside a string do not nest
        ('{"note": "\\"' + "[" * 500 + '"}', False),  # nor after an escaped quote
        ("[" * 100_000, True),  # unterminated: refused before the parser sees it
    ],
)
def test_nesting_depth_is_measured_outside_strings(text: str, deep: bool) -> None:
    assert json_too_deep(text.encode()) is deep


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 254, 1000, 100_000])
@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/events", "application/json"), ("/fhir/Observation", FHIR_JSON), ("/fhir", FHIR_JSON)],
)
def test_json_nested_too_deep_is_400_and_dead_lettered(
    app: tuple[TestClient, MemoryPublisher], depth: int, path: str, content_type: str
) -> None:
    client, publisher = app
    body = '{"resourceType": "Observation", "id": "x", "note": ' + "[" * depth + "]" * depth + "}"
    reply = client.post(path, content=body, headers=AUTH | {"Content-Type": content_type})
    assert reply.status_code == 400, reply.text
    assert f"more than {MAX_JSON_DEPTH} deep" in reply.text
    [letter] = dead_letters(publisher)
    assert f"more than {MAX_JSON_DEPTH} deep" in letter["reason"]


WRONG_TYPES: list[Any] = [{"a": 1}, [1], 1.5, None]


def leaves(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from leaves(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from leaves(value, (*path, index))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def test_a_field_of_the_wrong_json_type_anywhere_in_fhir_content_is_4xx_never_5xx(
    app: tuple[TestClient, MemoryPublisher],
) -> None:
    client, _ = app
    pain = pain_observation("p1", "P1", "2026-11-21T08:00:00Z")
    cancer = cancer_condition("c1", "P1", "2026-01-01")
    documents = [("/fhir/Observation", pain), ("/fhir/Condition", cancer)]
    documents.append(("/fhir", bundle("transaction", entry(pain), entry(cancer, "PUT"))))
    answered: dict[int, int] = {}
    for path, doc in documents:
        for where in leaves(doc):
            for value in WRONG_TYPES:
                reply = client.post(
                    path,
                    content=orjson.dumps(replaced(doc, where, value)),
                    headers=AUTH | {"Content-Type": FHIR_JSON},
                )
                answered[reply.status_code] = answered.get(reply.status_code, 0) + 1
                assert reply.status_code < 500, (path, where, value, reply.text[:200])
    assert sum(answered.values()) > 300 and set(answered) - {201, 200}, answered


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/xml", "application/json\x00evil"],
)
def test_events_in_anything_but_json_are_415(
    app: tuple[TestClient, MemoryPublisher], content_type: str | None
) -> None:
    client, publisher = app
    headers = AUTH | ({"Content-Type": content_type} if content_type is not None else {})
    body = orjson.dumps({"specversion": "1.0", "id": "e-1"})
    reply = client.post("/v1/events", content=body, headers=headers)
    assert reply.status_code == 415 and "send application/json" in reply.text, reply.text
    assert publisher.records == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/cloudevents+json"]
)
def test_json_and_cloudevents_media_types_are_read(
    app: tuple[TestClient, MemoryPublisher], content_type: str
) -> None:
    client, _ = app
    event = {
        "specversion": "1.0",
        "id": f"ct-{content_type[-4:]}",
        "source": "urn:test:epr",
        "type": "carepath.pain.reported.v1",
        "subject": "p-1",
        "time": "2026-11-21T08:30:00Z",
        "data": {"nrs": 3, "site": ["lumbar"]},
    }
    reply = client.post(
        "/v1/events", content=orjson.dumps(event), headers=AUTH | {"Content-Type": content_type}
    )
    assert reply.status_code == 202, reply.text


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        (
            "/v1/events",
            "application/json",
            b'{"specversion": "1.0", "id": "d-1", "data": {"nrs": 2, "nrs": 9}}',
        ),
        ("/v1/events", "application/json", b'[{"id": "d-2", "id": "d-3"}]'),
        (
            "/v1/events",
            "application/json",
            b'{"subject": "p-1", "\\u0073ubject": "p-2"}',
        ),  # the same key, escaped
        (
            "/fhir/Observation",
            FHIR_JSON,
            b'{"resourceType": "Observation", "valueInteger": 2, "valueInteger": 9}',
        ),
        ("/fhir", FHIR_JSON, b'{"resourceType": "Bundle", "type": "batch", "type": "transaction"}'),
    ],
    ids=["events-nrs", "events-id-in-batch", "events-escaped-subject", "fhir-value", "fhir-bundle-type"],
)
def test_a_key_written_twice_is_400_naming_it_and_dead_lettered(
    app: tuple[TestClient, MemoryPublisher], path: str, content_type: str, body: bytes
) -> None:
    client, publisher = app
    reply = client.post(path, content=body, headers=AUTH | {"Content-Type": content_type})
    assert reply.status_code == 400 and "written twice" in reply.text, reply.text
    [letter] = dead_letters(publisher)
    assert "written twice" in letter["reason"]
    assert not [r for r in publisher.records if r.topic != topics.CLINICAL_EVENTS_DLQ]
