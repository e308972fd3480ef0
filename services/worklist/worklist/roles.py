"""The roles a clinician acknowledges as, read from the contract (``common.v1`` ``role``), so the page
offers exactly what intake accepts."""

from __future__ import annotations

import json
from functools import cache

from carepath.resources import schemas_dir

REASON_MAX = 1000


@cache
def roles() -> tuple[str, ...]:
    common = json.loads((schemas_dir() / "common.v1.schema.json").read_text())
    return tuple(str(r) for r in common["$defs"]["role"]["enum"])


def label(role: str) -> str:
    return role.replace("_", " ").capitalize()
