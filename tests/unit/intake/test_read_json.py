"""``intake.limits.read_json``: a body is read as the standard library reads it, or refused for the
reason it is refused; its keys are counted from the parsed document (colons outside strings), which must
agree with counting them in the text, whatever the strings hold (colons, escapes, quotes, other scripts)
and however the sender spaces its JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.limits import (
    _STRINGS_AND_COLONS,
    MAX_JSON_DEPTH,
    JsonRefused,
    _keys_in,
    _shape,
    read_json,
)

pytestmark = pytest.mark.unit

# strings full of what trips a text scanner: colons, quotes, backslashes, braces, other scripts
_TEXT = st.text(
    alphabet=st.sampled_from(list(':":\\{}[], ab\u00e9\u4e2d\U0001f600\n\t/'))
    | st.characters(exclude_categories=("Cs",)),
    max_size=12,
)
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=40,
)
_LAYOUT = st.sampled_from(
    [
        {"separators": (",", ":")},
        {"separators": (", ", ": ")},
        {"separators": (",", " :\t")},
        {"indent": 2},
        {"indent": "\t", "separators": (",\r\n", " : ")},
    ]
)


def _written_keys(raw: bytes) -> int:
    colons = _STRINGS_AND_COLONS.findall(raw)
    return len(colons) - colons.count(b"")


@settings(max_examples=200, deadline=None)
@given(doc=_DOCS, layout=_LAYOUT, ascii_only=st.booleans())
def test_a_body_without_repeated_keys_reads_as_the_standard_library_reads_it(
    doc: Any, layout: dict[str, Any], ascii_only: bool
) -> None:
    raw = json.dumps(doc, ensure_ascii=ascii_only, **layout).encode()
    if _shape(json.loads(raw))[0] > MAX_JSON_DEPTH:
        return
    assert read_json(raw) == json.loads(raw)


@settings(max_examples=200, deadline=None)
@given(doc=_DOCS, layout=_LAYOUT)
def test_keys_counted_from_the_document_are_the_keys_written(doc: Any, layout: dict[str, Any]) -> None:
    raw = json.dumps(doc, ensure_ascii=False, **layout).encode()
    if b"\\u" in raw:
        return  # counted from the text instead (an escaped colon is not a colon in the body)
    parsed = json.loads(raw)
    _, keys, colons_in_strings = _shape(parsed)
    assert keys == _keys_in(parsed)
    assert raw.count(b":") - colons_in_strings == _written_keys(raw) == keys


@settings(max_examples=150, deadline=None)
@given(
    key=_TEXT,
    first=_SCALARS,
    second=_SCALARS,
    around=st.lists(_TEXT, max_size=3),
    wrap=st.integers(min_value=0, max_value=5),
    ascii_only=st.booleans(),
)
def test_a_key_written_twice_in_one_object_is_refused_and_named(
    key: str, first: Any, second: Any, around: list[str], wrap: int, ascii_only: bool
) -> None:
    def enc(value: Any) -> str:
        return json.dumps(value, ensure_ascii=ascii_only)

    others = ", ".join(f"{enc(k)}: 1" for k in dict.fromkeys(around) if k != key)
    body = (
        "{" + (others + ", " if others else "") + f"{enc(key)}: {enc(first)}, {enc(key)} :{enc(second)}" + "}"
    )
    for level in range(wrap):
        body = f'{{"level{level}": [{body}]}}' if level % 2 else f"[{body}, 1]"
    with pytest.raises(JsonRefused) as refused:
        read_json(body.encode())
    assert refused.value.label == "duplicate_key"
    assert repr(key[:60]) in refused.value.reason


@pytest.mark.parametrize(
    ("body", "label"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, None),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "too_deep"),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), "too_deep"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),  # past orjson's own limit: still called too deep
        (b"[" * 100_000, "too_deep"),  # too deep and never closed
        (b'{"a": "' + b"[" * 100 + b'"}', None),  # brackets in a string are text
        (b'{"a": 1,}', "malformed"),
        (b"[" * 10 + b"}", "malformed"),
        (b'{"a": "\\u003a", "b": {"c:": 1}}', None),  # an escaped colon: counted from the text
        (b'{"a\\u003a": 1, "a:": 2}', "duplicate_key"),  # the same key written two ways
        (b'{"x": {"t": "10:30"}, "y": {"t": 1, "t": 2}}', "duplicate_key"),
    ],
)
def test_depth_malformed_and_repeated_keys(body: bytes, label: str | None) -> None:
    if label is None:
        assert read_json(body) == json.loads(body)
        return
    with pytest.raises(JsonRefused) as refused:
        read_json(body)
    assert refused.value.label == label
