"""``envelope.canonical_numbers`` (every whole number published as an integer), against the plain
recursive definition, over any JSON value; and what it leaves alone is the very object it was given."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.envelope import MAX_SAFE_INTEGER, canonical_numbers

pytestmark = pytest.mark.unit


def reference(value: Any) -> Any:
    """The definition, written as plainly as it reads."""
    if isinstance(value, float):
        if value.is_integer() and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: reference(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reference(v) for v in value]
    return value


numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([8.0, -0.0, 0.0, 1e-400, 2.0**53, 2.0**53 - 1, -(2.0**53) + 1, 1e300, 0.5]),
)
scalars = st.one_of(st.none(), st.booleans(), st.text(max_size=8), numbers)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=40,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types throughout (8 and 8.0 are equal in Python, not here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_it_agrees_with_the_definition_on_any_json_value(value: Any) -> None:
    before = orjson.dumps(value)
    assert _same(canonical_numbers(value), reference(value))
    assert orjson.dumps(value) == before  # the input is never changed


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_what_has_nothing_to_change_is_returned_as_it_is(value: Any) -> None:
    settled = reference(value)
    assert canonical_numbers(settled) is settled


def test_only_the_parts_that_change_are_copied() -> None:
    site = ["T10", "L1"]
    event = {"data": {"nrs": 8.0, "site": site}, "subject": "p-1", "meta": {"flags": [True, None]}}
    out = canonical_numbers(event)
    assert out == {
        "data": {"nrs": 8, "site": ["T10", "L1"]},
        "subject": "p-1",
        "meta": {"flags": [True, None]},
    }
    assert type(out["data"]["nrs"]) is int
    assert out is not event and out["data"] is not event["data"]
    assert out["data"]["site"] is site and out["meta"] is event["meta"]
    assert event["data"]["nrs"] == 8.0 and type(event["data"]["nrs"]) is float
