"""Both schema validators give every example in schemas/examples/ the same verdict.

jsonschema-rs answers "valid?" for every event; jsonschema explains what is wrong with a rejected one.
Were they to drift apart, an event could pass that jsonschema would reject, or a rejection could come
without a reason. Valid examples are valid under both, invalid ones invalid under both (or, where only a
rule between two fields makes them invalid, valid under both schemas and refused by the contract).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from carepath import contracts, deadletter
from carepath.resources import schemas_dir

pytestmark = pytest.mark.contract

EXAMPLES = schemas_dir() / "examples"
RECORDS = {"dlq-record.v1": contracts.DLQ_SCHEMA, "parked-record.v1": deadletter.PARKED_SCHEMA}
VALID = sorted(EXAMPLES.glob("*/valid/*.json"))
INVALID = sorted(p for p in EXAMPLES.glob("*/invalid/*.json") if p.name != "expected.json")


def example_id(path: Path) -> str:
    return f"{path.parts[-3]}/{path.name}"


def schema_file(folder: str, document: Any) -> str:
    """The schema an example is checked against, as the contract chooses it."""
    if folder in RECORDS:
        return RECORDS[folder]
    known = contracts._catalogue().types.get(document.get("type")) if isinstance(document, dict) else None
    return known.schema_file if known is not None else contracts.ENVELOPE_SCHEMA


def validators(name: str) -> dict[str, Callable[[object], bool]]:
    checker = contracts._checker(name)
    return {"jsonschema-rs": checker.accepts, "jsonschema": checker.explain.is_valid}


def verdicts(path: Path) -> dict[str, bool]:
    document = json.loads(path.read_text(encoding="utf-8"))
    name = schema_file(path.parts[-3], document)
    return {validator: check(document) for validator, check in validators(name).items()}


def refused_by_the_contract(path: Path) -> bool:
    folder, document = path.parts[-3], json.loads(path.read_text(encoding="utf-8"))
    if folder == "dlq-record.v1":
        return bool(contracts.validate_dlq_record(document))
    if folder == "parked-record.v1":
        return bool(deadletter.validate_parked_record(document))
    if folder in contracts.OUTPUT_TYPES:
        return bool(contracts.validate_output(document))
    return bool(contracts.validate_event(document))


def test_the_examples_are_found() -> None:
    assert len(VALID) >= 40 and len(INVALID) >= 80


@pytest.mark.parametrize("path", VALID, ids=example_id)
def test_a_valid_example_is_valid_under_every_validator(path: Path) -> None:
    assert verdicts(path) == dict.fromkeys(verdicts(path), True)


@pytest.mark.parametrize("path", INVALID, ids=example_id)
def test_an_invalid_example_gets_one_verdict_from_every_validator(path: Path) -> None:
    said = verdicts(path)
    assert len(set(said.values())) == 1, said
    if all(said.values()):  # valid by its schema: a rule between two fields refuses it
        assert refused_by_the_contract(path)
