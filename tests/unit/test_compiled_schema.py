"""The compiled yes/no check of a schema (jsonschema-rs) gives the verdict the explainer (jsonschema) gives,
reads patterns as ECMA-262 like it, and never reaches the network."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from carepath.compiled_schema import compile_schema, explainer

pytestmark = pytest.mark.unit

BASE = "https://carepath.example/test/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def both(
    schema: dict[str, Any], instances: list[object], others: Sequence[dict[str, Any]] = ()
) -> list[tuple[bool, bool]]:
    """(compiled verdict, jsonschema verdict) for each instance."""
    schema = {"$schema": DRAFT, "$id": BASE + "s.json", **schema}
    compiled = compile_schema(schema, others, {})
    reference = explainer(schema, others)
    return [(compiled(i), reference.is_valid(i)) for i in instances]


def agrees(
    schema: dict[str, Any], instances: list[object], others: Sequence[dict[str, Any]] = ()
) -> list[bool]:
    verdicts = both(schema, instances, others)
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


def test_a_ref_to_another_schema_is_resolved_among_those_given() -> None:
    common = {
        "$schema": DRAFT,
        "$id": BASE + "common.json",
        "$defs": {"nrs": {"type": "integer", "maximum": 10}},
    }
    schema = {"properties": {"nrs": {"$ref": "common.json#/$defs/nrs"}}}
    assert agrees(schema, [{"nrs": 3}, {"nrs": 11}, {"nrs": "3"}], [common]) == [True, False, False]


def test_a_ref_nothing_given_resolves_is_refused_without_fetching_it() -> None:
    schema = {"$schema": DRAFT, "$id": BASE + "s.json", "$ref": "https://carepath.example/elsewhere.json"}
    with pytest.raises(ValueError, match=r"elsewhere\.json.* not present"):
        compile_schema(schema, [], {})


def test_only_the_formats_given_are_checked() -> None:
    schema = {
        "$schema": DRAFT,
        "$id": BASE + "s.json",
        "properties": {"on": {"format": "date"}, "uri": {"format": "uri"}},
    }

    def calendar(text: str) -> bool:
        try:
            date.fromisoformat(text)
        except ValueError:
            return False
        return True

    checker = FormatChecker(formats=())
    checker.checks("date")(lambda v: not isinstance(v, str) or calendar(v))
    reference = Draft202012Validator(schema, format_checker=checker)
    compiled = compile_schema(schema, [], {"date": calendar})
    instances: list[object] = [{"on": "2026-02-28"}, {"on": "2026-02-30"}, {"uri": "not a uri"}, {"on": 7}]
    assert [compiled(i) for i in instances] == [True, False, True, True]
    assert [reference.is_valid(i) for i in instances] == [True, False, True, True]
    annotations_only = compile_schema(schema, [], {})
    assert annotations_only({"on": "2026-02-30"})


def test_a_value_json_cannot_hold_is_a_no_not_a_crash() -> None:
    """YAML reads an unquoted date as a date: the check says no and leaves the reason to jsonschema."""
    schema = {
        "$schema": DRAFT,
        "$id": BASE + "s.json",
        "type": "object",
        "properties": {"on": {"type": "string"}},
    }
    check = compile_schema(schema, [], {})
    assert check({"on": "2026-01-01"})
    assert not check({"on": date(2026, 1, 1)})
    assert not check({1: "an integer key"})


def test_patterns_are_ecma_262_in_both_not_python_re() -> None:
    """Python's ``$`` also matches before a final line break, and its ``\\s`` leaves out U+FEFF: the
    contract's patterns mean what they mean to every other JSON Schema implementation."""
    one_line = {"type": "string", "pattern": "^[A-Za-z0-9._:-]+$"}
    assert agrees(one_line, ["bench-1", "bench-1\n", "bench 1"]) == [True, False, False]
    no_spaces = {"type": "string", "pattern": "^\\S+$"}
    assert agrees(no_spaces, ["urn:a:b", "urn:a:b\ufeff", "urn:a:b\u00a0"]) == [True, False, False]
    python = Draft202012Validator({"pattern": "^[a-z]+$"})
    assert python.is_valid("abc\n")  # what jsonschema alone would accept
    errors = list(explainer({"$id": BASE + "s.json", "pattern": "^[a-z]+$"}, []).iter_errors("abc\n"))
    assert [e.message for e in errors] == ["'abc\\n' does not match '^[a-z]+$'"]
