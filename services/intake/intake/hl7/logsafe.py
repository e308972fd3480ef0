"""What may be logged of a message: values read from input are checked and bounded before they are logged.

A log line must never carry patient data. Header fields are logged only when they look like what they are
(an MSH-10 control id, a message type); anything else is logged as ``"[invalid]"`` with its length. Codes
are logged only when they look like codes, never the text of a CE/CWE value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from intake.hl7.message import Header

INVALID = "[invalid]"
_CONTROL_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
_MESSAGE_TYPE = re.compile(r"^[A-Z0-9]{1,3}\^[A-Z0-9]{0,3}$")
_CODE = re.compile(r"^[A-Za-z0-9._:/*+-]{1,40}$")
MAX_CODES = 20


def control_id(value: str | None) -> dict[str, Any]:
    """``control_id`` as sent when it is a plain identifier, else ``[invalid]`` and its length."""
    if value is None:
        return {"control_id": None}
    if _CONTROL_ID.match(value):
        return {"control_id": value}
    return {"control_id": INVALID, "control_id_length": len(value)}


def message_type(header: Header | None) -> str | None:
    if header is None:
        return None
    key = header.type_key
    return key if _MESSAGE_TYPE.match(key) else INVALID


def header_fields(header: Header | None) -> dict[str, Any]:
    """The fields of a header fit to log: control id and message type, checked."""
    return {**control_id(header.control_id if header else None), "message_type": message_type(header)}


def codes(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], int]:
    """(system, code) pairs fit to log as ``code (system)``, at most MAX_CODES; and how many were not shown
    because they do not look like codes."""
    shown: set[str] = set()
    hidden = 0
    for system, code in pairs:
        if _CODE.match(code) and (not system or _CODE.match(system)):
            shown.add(f"{code} ({system})" if system else code)
        else:
            hidden += 1
    return sorted(shown)[:MAX_CODES], hidden
