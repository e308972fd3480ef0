"""Where a problem is in an HL7 message, and what it is in HL7's own terms (table 0357 error codes).

A problem is named three ways: for people (``OBX[2]-5``), for the ACK's ERR segment (``OBX^2^5``) and for a
dead-letter record, whose ``field`` is a JSON pointer into the message (``/OBX[2]/5``).
"""

from __future__ import annotations

from dataclasses import dataclass

# HL7 table 0357, message error condition codes.
ACCEPTED = 0
SEGMENT_SEQUENCE = 100
REQUIRED_FIELD_MISSING = 101
DATA_TYPE_ERROR = 102
TABLE_VALUE_NOT_FOUND = 103
UNSUPPORTED_MESSAGE_TYPE = 200
UNSUPPORTED_EVENT_CODE = 201
UNSUPPORTED_VERSION = 203
DUPLICATE_KEY = 205
INTERNAL_ERROR = 207

ERROR_TEXT = {
    ACCEPTED: "Message accepted",
    SEGMENT_SEQUENCE: "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    UNSUPPORTED_VERSION: "Unsupported version id",
    DUPLICATE_KEY: "Duplicate key identifier",
    INTERNAL_ERROR: "Application internal error",
}

_ONCE_PER_MESSAGE = frozenset({"MSH", "EVN", "PID", "PD1", "PV1", "MSA"})


@dataclass(frozen=True)
class Location:
    segment: str
    sequence: int = 1  # which occurrence of the segment in the message, from 1
    field: int | None = None
    component: int | None = None

    def __str__(self) -> str:
        once = self.segment in _ONCE_PER_MESSAGE and self.sequence == 1
        where = self.segment if once else f"{self.segment}[{self.sequence}]"
        if self.field is not None:
            where += f"-{self.field}"
            if self.component is not None:
                where += f".{self.component}"
        return where

    def at(self, field: int, component: int | None = None) -> Location:
        return Location(self.segment, self.sequence, field, component)

    @property
    def pointer(self) -> str:
        parts = [f"{self.segment}[{self.sequence}]"]
        if self.field is not None:
            parts.append(str(self.field))
            if self.component is not None:
                parts.append(str(self.component))
        return "/" + "/".join(parts)

    def erl(self) -> list[str]:
        """ERR-2 (error location) components: segment, sequence, field, repetition, component."""
        out = [self.segment, str(self.sequence)]
        if self.field is not None:
            out.append(str(self.field))
            if self.component is not None:
                out += ["1", str(self.component)]
        return out


@dataclass(frozen=True)
class Problem:
    """Something in a message carepath cannot take as it is: the sender is told (AE) and it is dead-lettered."""

    message: str  # one line, names the field
    code: int = DATA_TYPE_ERROR  # HL7 table 0357
    location: Location | None = None
    label: str = "hl7_content"  # metric reason

    def describe(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message
