"""The compiled yes/no form of a schema gives the verdict JSON Schema 2020-12 gives."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from carepath.schema_predicate import UnsupportedSchema, compile_predicate, json_equal

pytestmark = pytest.mark.unit

BASE = "https://carepath.example/test/"


def both(schema: dict[str, Any], instances: list[object]) -> list[tuple[bool, bool]]:
    """(compiled verdict, jsonschema verdict) for each instance."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": BASE + "s.json", **schema}
    registry = Registry().with_resource(schema["$id"], DRAFT202012.create_resource(schema))
    compiled = compile_predicate(schema, registry.resolver(base_uri=schema["$id"]), {})
    reference = Draft202012Validator(schema, registry=registry)
    return [(compiled(i), reference.is_valid(i)) for i in instances]


def agrees(schema: dict[str, Any], instances: list[object]) -> list[bool]:
    verdicts = both(schema, instances)
    assert all(fast == slow for fast, slow in verdicts), verdicts
    return [fast for fast, _ in verdicts]


def test_integer_excludes_booleans_and_includes_whole_floats() -> None:
    assert agrees({"type": "integer"}, [1, 1.0, 1.5, True, "1", None]) == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_enum_and_const_tell_true_from_one() -> None:
    assert agrees({"enum": [1, "a"]}, [1, 1.0, True, "a", "b"]) == [True, True, False, True, False]
    assert agrees({"const": False}, [False, 0, None]) == [True, False, False]


def test_unique_items_uses_json_equality() -> None:
    verdicts = agrees({"uniqueItems": True}, [[1, 1.0], [1, True], ["a", "a"], [{"a": 1}, {"a": 1}], []])
    assert verdicts == [False, True, False, False, True]


def test_numeric_bounds_ignore_non_numbers() -> None:
    schema = {"minimum": 0, "maximum": 10, "exclusiveMinimum": -1}
    assert agrees(schema, [0, 10, 11, -0.5, True, "99"]) == [True, True, False, False, True, True]


def test_objects_required_additional_and_pattern_properties() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "string"}},
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
    }
    instances: list[object] = [
        {"a": "1"},
        {"a": 1},
        {},
        {"a": "1", "x-n": 2},
        {"a": "1", "x-n": "2"},
        {"a": "1", "b": 1},
    ]
    assert agrees(schema, instances) == [True, False, False, True, False, False]


def test_combinators_conditionals_and_dependencies() -> None:
    schema = {
        "oneOf": [{"type": "object"}, {"type": "string"}],
        "not": {"const": "no"},
        "if": {"properties": {"k": {"const": "a"}}, "required": ["k"]},
        "then": {"required": ["a"]},
        "else": {"maxProperties": 2},
        "dependentRequired": {"x": ["y"]},
        "dependentSchemas": {"z": {"properties": {"z": {"minLength": 2}}}},
    }
    instances: list[object] = [
        {"k": "a", "a": 1},
        {"k": "a"},
        {"k": "b", "m": 1, "n": 2},
        {"x": 1},
        {"x": 1, "y": 2},
        {"z": "a"},
        "yes",
        "no",
        3,
    ]
    assert agrees(schema, instances) == [True, False, False, False, True, False, True, False, False]


def test_refs_arrays_and_strings() -> None:
    schema = {
        "$defs": {"site": {"enum": ["lumbar", "sacral"]}},
        "type": "array",
        "items": {"$ref": "#/$defs/site"},
        "minItems": 1,
        "maxItems": 2,
        "contains": {"const": "lumbar"},
    }
    assert agrees(schema, [["lumbar"], ["sacral"], [], ["lumbar", "x"], ["lumbar"] * 3]) == [
        True,
        False,
        False,
        False,
        False,
    ]
    strings = {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-z]+$"}
    assert agrees(strings, ["ab", "a", "abcd", "AB", "é"]) == [True, False, False, False, False]


def test_a_keyword_it_does_not_know_is_refused_at_compile_time() -> None:
    with pytest.raises(UnsupportedSchema, match="unevaluatedProperties"):
        both({"unevaluatedProperties": False}, [])


def test_json_equal() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(1, True)
    assert json_equal([1, {"a": "b"}], [1.0, {"a": "b"}])
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal("1", 1)
