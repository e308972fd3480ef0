"""intake's OpenAPI document stands on its own: every ``$ref`` points inside the document and resolves,
the document is valid OpenAPI, schemathesis loads it without a reference error, and the event body it
describes is the published envelope contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from schemathesis.core.result import Ok

from carepath.contracts import validate_event
from intake import openapi
from intake.publisher import MemoryPublisher
from tests.unit.intake.support import served

pytestmark = pytest.mark.contract

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

PAIN = {
    "specversion": "1.0",
    "id": "evt-1",
    "source": "urn:hospital:epr",
    "type": "carepath.pain.reported.v1",
    "subject": "patient-1",
    "time": "2026-11-21T09:30:00Z",
    "data": {"nrs": 8, "site": ["thoracic"]},
}


@pytest.fixture(scope="module")
def document() -> Iterator[dict[str, Any]]:
    with served(MemoryPublisher()) as client:
        yield fetch(client)


def fetch(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external reference {ref!r}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref!r} does not resolve"
        node = node[part]
    return node


def test_every_reference_is_local_and_resolves(document: dict[str, Any]) -> None:
    found = list(refs(document))
    assert "#/components/schemas/CloudEvent" in found
    assert "#/components/schemas/common.v1.patient_id" in found
    for ref in found:
        resolve(document, ref)
    assert not any("$id" in s for s in document["components"]["schemas"].values())


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises, naming the path, when it is not


def test_the_event_body_accepts_what_the_contract_accepts(document: dict[str, Any]) -> None:
    """The envelope as inlined agrees with the published file on a valid event and on a bad patient id."""
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**body, "components": document["components"]})
    assert validator.is_valid(PAIN) and validator.is_valid([PAIN])
    assert validate_event(PAIN) == []
    bad = {**PAIN, "subject": "has spaces"}
    assert not validator.is_valid(bad) and validate_event(bad) != []


def test_a_reference_to_a_missing_definition_is_named(tmp_path: Path) -> None:
    (tmp_path / "cloudevent.v1.schema.json").write_text(
        '{"properties": {"a": {"$ref": "x.schema.json#/$defs/y"}}}'
    )
    with pytest.raises(openapi.OpenApiError, match=r"x\.schema\.json"):
        openapi.contract_components(tmp_path)


def test_schemathesis_loads_every_operation_without_a_reference_error(document: dict[str, Any]) -> None:
    """What a generator or fuzzer does with the published document: every operation loads, and a request
    body for ``POST /v1/events`` is generated through its references to the envelope's definitions."""
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    errors = [str(r.err()) for r in results if not isinstance(r, Ok)]
    assert errors == []
    operations = {(r.ok().method.upper(), r.ok().path): r.ok() for r in results}
    assert len(operations) == sum(
        1 for item in document["paths"].values() for method in item if method in HTTP_METHODS
    )
    bodies: list[Any] = []

    @hypothesis.settings(max_examples=5, database=None, deadline=None, phases=[hypothesis.Phase.generate])
    @hypothesis.given(case=operations[("POST", "/v1/events")].as_strategy())
    def draw(case: Any) -> None:
        bodies.append(case.body)

    draw()
    events = [b for body in bodies for b in (body if isinstance(body, list) else [body])]
    assert events and all(isinstance(e, dict) and "subject" in e and "data" in e for e in events)
