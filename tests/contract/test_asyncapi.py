"""``schemas/asyncapi.yaml`` is what ``python -m tools.asyncapi`` generates from ``schemas/``, describes every
topic of the catalogue, and is a valid AsyncAPI 3.0 document by the AsyncAPI Initiative's own parser
(``@asyncapi/parser``, pinned in ``tests/support/asyncapi``; ``make asyncapi-parser`` installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from carepath import topics
from notifier.dead_letters import TOPIC as NOTIFICATIONS_DLQ
from notifier.dead_letters import dead_letter
from tools import asyncapi

pytestmark = pytest.mark.contract

PARSER = Path(__file__).resolve().parents[1] / "support" / "asyncapi"
EXAMPLES = asyncapi.SCHEMAS / "examples"


@cache
def committed() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(asyncapi.OUTPUT.read_text(encoding="utf-8"))
    return doc


def parse(path: Path) -> tuple[int, list[dict[str, Any]]]:
    node = shutil.which("node")
    assert node is not None, "node is needed to validate the AsyncAPI document: make sysdeps"
    assert (PARSER / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "the AsyncAPI parser is not installed: make asyncapi-parser"
    )
    done = subprocess.run(
        [node, str(PARSER / "validate.mjs"), str(path)], capture_output=True, text=True, timeout=60
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_committed_document_is_what_the_generator_writes() -> None:
    assert asyncapi.OUTPUT.read_text(encoding="utf-8") == asyncapi.render(), (
        "schemas/asyncapi.yaml differs from schemas/: run python -m tools.asyncapi"
    )


def test_the_asyncapi_parser_finds_no_error_or_warning() -> None:
    code, diagnostics = parse(asyncapi.OUTPUT)
    problems = [d for d in diagnostics if d.get("severity") in ("error", "warning")]
    assert code == 0 and problems == [], problems
    assert {"version": "3.0.0", "channels": len(topics.catalogue())} in diagnostics


def test_the_parser_refuses_a_broken_reference(tmp_path: Path) -> None:
    """The check above can fail: a reference to a schema that is not there is an error."""
    broken = tmp_path / "asyncapi.yaml"
    text = asyncapi.OUTPUT.read_text(encoding="utf-8")
    broken.write_text(
        text.replace("#/components/schemas/common.v1.timestamp", "#/components/schemas/nowhere")
    )
    code, diagnostics = parse(broken)
    assert code == 1
    assert any(d["severity"] == "error" and "nowhere" in d["message"] for d in diagnostics)


def test_every_topic_is_a_channel_with_its_partitions_and_a_send_operation() -> None:
    doc = committed()
    for spec in topics.declared():  # as schemas/topics.json declares them: the production partition count
        channel = doc["channels"][spec.name]
        assert channel["address"] == spec.name and channel["messages"], spec.name
        kafka = channel["bindings"]["kafka"]
        assert kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"]["retention.ms"] == spec.retention_ms
        assert doc["operations"][f"write.{spec.name}"]["channel"] == {"$ref": f"#/channels/{spec.name}"}
        for message in channel["messages"].values():
            name = message["$ref"].rsplit("/", 1)[1]
            assert doc["components"]["messages"][name]["contentType"] == spec.content_type
    escalations = set(doc["channels"]["care.escalations"]["messages"])
    assert escalations == {f"carepath.escalation.{c}.v1" for c in ("raised", "updated", "resolved")}


def _validator(name: str) -> Draft7Validator:
    doc = committed()
    registry: Registry[Any] = Registry().with_resource("urn:asyncapi", Resource(doc, DRAFT7))
    schema = {"$ref": f"urn:asyncapi#/components/schemas/{name}"}
    return Draft7Validator(schema, registry=registry)


def _typed_messages() -> list[str]:
    return sorted(m for m in committed()["components"]["messages"] if (EXAMPLES / m).is_dir())


@cache
def _contract_registry() -> Registry[Any]:
    resources = []
    for path in sorted(asyncapi.SCHEMAS.glob("*.schema.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


@pytest.mark.parametrize("name", _typed_messages())
def test_the_payload_schemas_as_draft_07_keep_the_contract(name: str) -> None:
    """Written for AsyncAPI's draft 07, each payload gives the verdict the contract's JSON Schema (2020-12)
    gives on every example of its type, valid and invalid: dependentRequired and dependentSchemas carried
    over as dependencies, keywords beside a $ref kept. (Checks across fields that carepath makes in code,
    such as an onset after the event, are beyond either schema.)"""
    draft07 = _validator(name)
    contract = json.loads((asyncapi.SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    draft2020 = Draft202012Validator(contract, registry=_contract_registry())
    examples = sorted((EXAMPLES / name).glob("*/*.json"))
    assert examples
    for path in examples:
        if path.name == "expected.json":
            continue
        event = json.loads(path.read_text(encoding="utf-8"))
        verdict = draft2020.is_valid(event)
        assert draft07.is_valid(event) == verdict, f"{path.parent.name}/{path.name}: contract says {verdict}"
        if path.parent.name == "valid":
            assert verdict, path.name


def test_a_notification_dead_letter_as_the_notifier_writes_it_passes_its_message_schema() -> None:
    """care.notifications.dlq has no schema file in schemas/; the generator's is held to the real writer."""
    event = json.loads(
        next((EXAMPLES / "carepath.escalation.raised.v1" / "valid").glob("*.json")).read_text(
            encoding="utf-8"
        )
    )
    record = dead_letter(
        endpoint="oncall-pager",
        url="https://pager.hospital.example/hooks/carepath",
        event_id=event["id"],
        event_type=event["type"],
        attempts=10,
        last_error="HTTP 503",
        first_seen=1_714_550_000.114,
        at=1_714_550_700.902,
        event=event,
    )
    validator = _validator("notification-dead-letter.v1")
    assert [e.message for e in validator.iter_errors(json.loads(record))] == []
    assert not validator.is_valid({**json.loads(record), "attempts": 0})
    channel = committed()["channels"][NOTIFICATIONS_DLQ]["messages"]
    assert list(channel) == ["notification-dead-letter.v1"]
