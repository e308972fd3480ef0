"""Reading a request body as JSON, with the checks its parser does not make: depth and repeated keys.

JSON nested deeper than any event or FHIR resource needs is refused before a validator or an encoder
recurses into it (each has its own depth limit, and some fail with an internal error rather than a
refusal); orjson, which parses it first, refuses anything over 1,024 deep itself. A key written twice in
one object is refused too: JSON parsers silently keep the last value, so ``{"nrs": 2, "nrs": 9}`` would be
read as whichever the sender's engine did not mean.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MAX_JSON_DEPTH = 64  # a FHIR transaction Bundle of Observations with components nests about 12 deep

# A JSON string, written unrolled (a run of plain characters, then any escape and the run after it), which
# the regular expression engine matches a run at a time rather than trying an alternation per character.
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRINGS = re.compile(_STRING)
# Every string, and the colon after it when there is one (the string is then a key)
_STRINGS_AND_COLONS = re.compile(_STRING + rb"([ \t\r\n]*:)?")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


class JsonRefused(ValueError):
    """A body that is not JSON carepath reads: ``reason`` for the sender, ``label`` for the metric."""

    def __init__(self, reason: str, label: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.label = label  # malformed | too_deep | duplicate_key


TOO_DEEP = f"body nests objects and arrays more than {MAX_JSON_DEPTH} deep"


def read_json(raw: bytes) -> Any:
    """``raw`` parsed, when it is JSON nested at most MAX_JSON_DEPTH deep with no key written twice in one
    object; else :class:`JsonRefused`.

    One walk of the parsed document gives its depth, the keys it holds and the colons in its strings.
    In valid JSON a colon outside a string is a member's, so the body's colons less those inside strings
    are the keys written; more than the document holds means an object repeats one. A string's colons
    are counted decoded, which is what the body holds unless one was written as ``\\u003a``: a body with
    any ``\\u`` in it has its keys counted from the text instead (:func:`duplicate_key`)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if json_too_deep(raw):
            raise JsonRefused(TOO_DEEP, "too_deep") from None
        raise JsonRefused(f"body is not valid JSON: {exc}", "malformed") from None
    depth, keys, colons_in_strings = _shape(doc)
    if depth > MAX_JSON_DEPTH:
        raise JsonRefused(TOO_DEEP, "too_deep")
    if b"\\u" in raw:
        repeated = duplicate_key(raw, doc)
    elif raw.count(b":") - colons_in_strings != keys:
        repeated = _named_twice(raw)
    else:
        repeated = None
    if repeated is not None:
        raise JsonRefused(
            f"key {repeated[:60]!r} is written twice in one object: which value is meant cannot be known",
            "duplicate_key",
        )
    return doc


def _shape(doc: Any) -> tuple[int, int, int]:
    """Deepest nesting of objects and arrays (a scalar is 0), keys held, colons in keys and strings."""
    depth = keys = colons = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, level = pop()
        if type(node) is dict:
            if level > depth:
                depth = level
            keys += len(node)
            for key, value in node.items():
                colons += key.count(":")
                if type(value) is str:
                    colons += value.count(":")
                elif type(value) is dict or type(value) is list:
                    push((value, level + 1))
        elif type(node) is list:
            if level > depth:
                depth = level
            for value in node:
                if type(value) is str:
                    colons += value.count(":")
                elif type(value) is dict or type(value) is list:
                    push((value, level + 1))
        elif type(node) is str:
            colons += node.count(":")
    return depth, keys, colons


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` nests objects and arrays more than ``limit`` deep (brackets inside strings do not
    count). Linear in the size of the body."""
    skeleton = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in skeleton:
        if byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def duplicate_key(raw: bytes, parsed: Any) -> str | None:
    """A key written twice in one object of ``raw`` (the parser kept only the last), or None.

    Counts the keys written (strings followed by a colon) against the keys the parsed document holds:
    they differ only when some object repeats a key. Only then is the body parsed again to name it."""
    colons = _STRINGS_AND_COLONS.findall(raw)  # per string: its colon, or b"" for a value
    written = len(colons) - colons.count(b"")
    if written == _keys_in(parsed):
        return None
    return _named_twice(raw)


def _named_twice(raw: bytes) -> str:
    """The first key written twice in one object of ``raw`` ("?" when the parser cannot say)."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and not found:
                found.append(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return "?"
    return found[0] if found else "?"


def _keys_in(doc: Any) -> int:
    count = 0
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count
