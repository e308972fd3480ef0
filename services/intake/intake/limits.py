"""Checks on a request body that its parser cannot make: depth before parsing, repeated keys after.

JSON nested deeper than any event or FHIR resource needs is refused before a parser, a validator or an
encoder recurses into it (each has its own depth limit, and some fail with an internal error rather than
a refusal). A key written twice in one object is refused too: JSON parsers silently keep the last value,
so ``{"nrs": 2, "nrs": 9}`` would be read as whichever the sender's engine did not mean.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64  # a FHIR transaction Bundle of Observations with components nests about 12 deep

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


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


_WHITESPACE = frozenset(b" \t\r\n")
_COLON = ord(":")


def duplicate_key(raw: bytes, parsed: Any) -> str | None:
    """A key written twice in one object of ``raw`` (the parser kept only the last), or None.

    Counts the keys written (strings followed by a colon) against the keys the parsed document holds:
    they differ only when some object repeats a key. Only then is the body parsed again to name it."""
    written = 0
    size = len(raw)
    for match in _STRINGS.finditer(raw):
        i = match.end()
        while i < size and raw[i] in _WHITESPACE:
            i += 1
        if i < size and raw[i] == _COLON:
            written += 1
    if written == _keys_in(parsed):
        return None
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
