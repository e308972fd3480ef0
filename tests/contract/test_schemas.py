"""The contract in schemas/: every schema is sound, every example says what it claims, nothing drifts.

Examples live in schemas/examples/<name>/{valid,invalid}/; <name> is an event type, ``cloudevent.v1``
(envelope faults, checked as intake checks input), ``dlq-record.v1`` or ``parked-record.v1``.
invalid/expected.json maps each invalid file to the JSON pointer the validator must name first.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from carepath import contracts, deadletter, topics
from carepath.contracts import INPUT_TYPES, OUTPUT_TYPES, ContractError
from carepath.resources import schemas_dir

pytestmark = pytest.mark.contract

SCHEMAS = schemas_dir()
EXAMPLES = SCHEMAS / "examples"
SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json"))
ENVELOPE_FOLDER = "cloudevent.v1"
DLQ_FOLDER = "dlq-record.v1"
PARKED_FOLDER = "parked-record.v1"
RECORD_FOLDERS = {ENVELOPE_FOLDER, DLQ_FOLDER, PARKED_FOLDER}  # contracts that are not event types
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def validator_for(folder: str) -> Callable[[object], list[ContractError]]:
    if folder == DLQ_FOLDER:
        return contracts.validate_dlq_record
    if folder == PARKED_FOLDER:
        return deadletter.validate_parked_record
    if folder in OUTPUT_TYPES:
        return contracts.validate_output
    return contracts.validate_event


def example_files(kind: str) -> list[Path]:
    return sorted(p for p in EXAMPLES.glob(f"*/{kind}/*.json") if p.name != "expected.json")


def example_id(path: Path) -> str:
    return f"{path.parts[-3]}/{path.name}"


VALID = example_files("valid")
INVALID = example_files("invalid")


# --------------------------------------------------------------------------------------------- the schemas


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_is_a_valid_2020_12_schema(path: Path) -> None:
    schema = load(path)
    assert schema["$schema"] == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_id_names_its_own_file(path: Path) -> None:
    assert load(path)["$id"] == f"https://carepath.example/schemas/{path.name}"


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_ref_resolves_without_the_network(path: Path) -> None:
    schema = load(path)
    registry = contracts._catalogue().registry
    resolver = registry.resolver(base_uri=schema["$id"])
    found = list(refs(schema))
    for ref in found:
        assert resolver.lookup(ref).contents is not None, ref
    if path.name.startswith("carepath."):
        assert found, "an event type composes the envelope through $ref"


def object_schemas(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield where, node
        for key, value in node.items():
            yield from object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from object_schemas(value, f"{where}/{n}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_object_is_closed_so_a_misspelt_field_is_named(path: Path) -> None:
    for where, node in object_schemas(load(path)):
        if where.endswith("/properties/data"):
            continue  # the envelope's data: each event type closes it
        assert node.get("additionalProperties") is False, f"{path.name}#{where}"


def test_the_type_catalogue_matches_the_schema_files() -> None:
    type_files = {p.name.removesuffix(".schema.json") for p in SCHEMA_FILES if p.name.startswith("carepath.")}
    assert type_files == INPUT_TYPES | OUTPUT_TYPES
    assert not INPUT_TYPES & OUTPUT_TYPES
    for name in type_files:
        assert load(SCHEMAS / f"{name}.schema.json")["properties"]["type"] == {"const": name}


def test_every_number_has_a_lower_bound() -> None:
    """Impossible values are rejected: no number field in event data accepts a negative by accident."""
    for path in SCHEMA_FILES:
        for where, node in number_schemas(load(path)):
            assert {"minimum", "exclusiveMinimum"} & node.keys(), f"{path.name}#{where}"


def number_schemas(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") in ("number", "integer"):
            yield where, node
        for key, value in node.items():
            yield from number_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from number_schemas(value, f"{where}/{n}")


# --------------------------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("path", VALID, ids=example_id)
def test_every_valid_example_passes(path: Path) -> None:
    folder = path.parts[-3]
    event = load(path)
    assert validator_for(folder)(event) == []
    if folder not in RECORD_FOLDERS:
        assert event["type"] == folder


@pytest.mark.parametrize("path", INVALID, ids=example_id)
def test_every_invalid_example_fails_naming_the_offending_field(path: Path) -> None:
    folder = path.parts[-3]
    expected = load(path.parent / "expected.json")[path.name]
    errors = validator_for(folder)(load(path))
    assert errors, "an invalid example passed"
    assert errors[0].field == expected, [e.describe() for e in errors]
    assert len({e.field for e in errors}) == len(errors), "one error per field"


@pytest.mark.parametrize("folder", sorted(p.name for p in EXAMPLES.iterdir()), ids=str)
def test_expected_json_lists_exactly_the_invalid_examples(folder: str) -> None:
    invalid = EXAMPLES / folder / "invalid"
    listed = load(invalid / "expected.json")
    present = {p.name for p in invalid.glob("*.json")} - {"expected.json"}
    assert set(listed) == present
    for pointer in listed.values():
        assert re.fullmatch(r"(/([^~/]|~[01])*)*", pointer), pointer


def test_every_example_folder_is_a_known_contract() -> None:
    folders = {p.name for p in EXAMPLES.iterdir()}
    assert folders == INPUT_TYPES | OUTPUT_TYPES | RECORD_FOLDERS


@pytest.mark.parametrize("name", sorted(INPUT_TYPES | OUTPUT_TYPES | RECORD_FOLDERS))
def test_every_contract_has_at_least_two_valid_and_two_invalid_examples(name: str) -> None:
    assert len(list((EXAMPLES / name / "valid").glob("*.json"))) >= 2
    assert len(load(EXAMPLES / name / "invalid" / "expected.json")) >= 2


# --------------------------------------------------------------------------------------------- fast path

# jsonschema-rs answers "valid?" for the hot path; jsonschema explains rejections. They must agree, or
# an event could pass the fast path that jsonschema would reject. Every example and a few thousand
# mutations of the valid ones are put to both.

SUBSTITUTES: list[object] = [
    None,
    True,
    0,
    -1,
    7.0,
    14,
    1e9,
    "",
    "x y",
    "limb_weakness",
    [],
    {},
    ["lumbar", "lumbar"],
]


def leaves(node: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield (*path, n)
            yield from leaves(value, (*path, n))


def replaced(doc: Any, path: tuple[Any, ...], value: object) -> Any:
    copied = copy.deepcopy(doc)
    parent = copied
    for part in path[:-1]:
        parent = parent[part]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copied


DELETE = object()


def schema_file_for(folder: str, document: Any) -> str:
    if folder == DLQ_FOLDER:
        return contracts.DLQ_SCHEMA
    if folder == PARKED_FOLDER:
        return deadletter.PARKED_SCHEMA
    return f"{document['type']}.schema.json"


def mutations(doc: Any) -> Iterator[Any]:
    for path in leaves(doc):
        for value in [DELETE, *SUBSTITUTES]:
            yield replaced(doc, path, value)
    for path in [(), *leaves(doc)]:
        target = doc
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            yield replaced(doc, (*path, "unexpected_field"), 1)


@pytest.mark.parametrize("path", VALID, ids=example_id)
def test_the_fast_path_agrees_with_jsonschema(path: Path) -> None:
    folder = path.parts[-3]
    doc = load(path)
    checker = contracts._checker(schema_file_for(folder, doc))
    siblings = [load(p) for p in INVALID if p.parts[-3] == folder]
    disagreements = []
    for variant in [doc, *siblings, *mutations(doc)]:
        if checker.accepts(variant) != checker.explain.is_valid(variant):
            disagreements.append(variant)
    assert not disagreements, json.dumps(disagreements[:3], indent=1)[:2000]


# --------------------------------------------------------------------------------------------- catalogue


def test_topics_json_has_every_topic_the_contract_uses() -> None:
    names = {t.name for t in topics.catalogue()}
    used = {load(p)["x-topic"] for p in SCHEMA_FILES if "x-topic" in load(p)}
    assert used, "schemas declare x-topic"
    used |= {
        topics.CLINICAL_EVENTS,
        topics.CLINICAL_EVENTS_DLQ,
        topics.CLINICAL_EVENTS_PARKED,
        topics.ACKNOWLEDGEMENTS,
        topics.ESCALATIONS,
        topics.ESCALATIONS_SHADOW,
        topics.REMINDERS,
    }
    assert used <= names, sorted(used - names)
    assert contracts.topic_for("carepath.escalation.acknowledged.v1") == topics.ACKNOWLEDGEMENTS
    assert contracts.topic_for("carepath.pain.reported.v1") == topics.CLINICAL_EVENTS
    assert contracts.topic_for("carepath.escalation.raised.v1") == topics.ESCALATIONS
    assert contracts.topic_for("carepath.reminder.overdue.v1") == topics.REMINDERS


def test_the_readme_documents_every_type_and_field() -> None:
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    for name in sorted(INPUT_TYPES | OUTPUT_TYPES):
        assert f"`{name}`" in readme, name
        data = contracts._catalogue().schemas[f"{name}.schema.json"]["$defs"]["data"]
        for field in data_fields(data):
            assert f"`{field}`" in readme, f"{name}: {field}"


def test_the_readme_documents_every_field_of_the_parked_record_in_its_section() -> None:
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    name = deadletter.PARKED_SCHEMA.removesuffix(".schema.json")
    [section] = [s for s in readme.split("\n## ") if s.splitlines()[0].endswith(f"(`{name}`)")]
    for field in contracts._catalogue().schemas[deadletter.PARKED_SCHEMA]["properties"]:
        assert f"`{field}`" in section, field


def test_a_parked_record_as_written_passes_its_schema_within_its_bounds() -> None:
    """What intake writes: codes that look like codes only, at most 50, events stored at most 200."""
    many = [("99NGH", f"ROW{n}") for n in range(60)] + [("http://snomed.info/sct", "Pain on coughing")]
    value = deadletter.parked(
        channel="mllp",
        reason="OBX[2]-3: observation (OBX-3) code ROW0 (99NGH) is not in carepath's code mapping",
        raw=b"MSH|^~\\&|EPR|NGH|CAREPATH|NGH|20240501093000+0100||ORU^R01|NGH-1|P|2.5.1\r\xff",
        received_at=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        codes=many,
        stored=[(f"hl7v2:NGH:NGH-1:{n}", "0" * 64) for n in range(210)],
    )
    record = json.loads(value)
    assert deadletter.validate_parked_record(record) == []
    assert len(record["codes"]) == deadletter.MAX_CODES and record["codes_not_listed"] == 11
    assert len(record["stored"]) == deadletter.MAX_STORED and record["stored_not_listed"] == 10
    assert record["raw_encoding"] == "base64"


def data_fields(data: dict[str, Any]) -> set[str]:
    fields = set(data.get("properties", {}))
    for branch in data.get("allOf", []):
        ref = branch.get("$ref")
        if ref:
            fields |= set(contracts._catalogue().schemas[ref]["properties"])
    return fields
