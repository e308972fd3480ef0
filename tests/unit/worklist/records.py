"""Records as the services publish them, built from the contract's own examples (schemas/examples)."""

from __future__ import annotations

import copy
import json
from typing import Any

from carepath import envelope
from carepath.resources import schemas_dir


def example(event_type: str, index: int = 0) -> dict[str, Any]:
    folder = schemas_dir() / "examples" / event_type / "valid"
    files = sorted(folder.glob("*.json"))
    rec: dict[str, Any] = json.loads(files[index].read_text())
    return copy.deepcopy(rec)


def raised(**changes: Any) -> dict[str, Any]:
    rec = example("carepath.escalation.raised.v1")
    rec["data"].update(changes)
    return rec


def encoded(rec: dict[str, Any]) -> bytes:
    return envelope.encode(rec)
