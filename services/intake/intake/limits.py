"""Limits checked on a request body before it is parsed.

JSON nested deeper than any event or FHIR resource needs is refused before a parser, a validator or an
encoder recurses into it (each has its own depth limit, and some fail with an internal error rather than
a refusal).
"""

from __future__ import annotations

import re

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
