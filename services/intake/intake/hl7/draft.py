"""What the mappers share: the message being mapped, and the events and problems they produce.

A mapper turns segments into :class:`Draft` events (type, clinical time, data, and where in the message
each field came from) or :class:`~intake.hl7.problems.Problem` s. :mod:`intake.hl7.mapping` gives drafts
their ids and envelope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from intake.hl7.codes import CodeMap
from intake.hl7.message import Coded, Message, Segment
from intake.hl7.problems import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    Location,
    Problem,
)
from intake.hl7.radiology import RadiologyRules
from intake.hl7.times import parse_ts

_NUMBER = re.compile(r"^\s*([<>]=?)?\s*(\d+(?:\.\d+)?|\.\d+)\s*$")
_CODE = re.compile(r"^[A-Za-z0-9._:/*+-]{1,40}$")
UNKNOWN_CODE = "hl7_unknown_code"  # metric reason of a code carepath does not know


class ContentError(Exception):
    """One part of a message cannot be mapped; the rest of the message still can."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


@dataclass(frozen=True)
class Draft:
    type: str
    time: datetime
    data: dict[str, Any]
    origin: Location  # the segment the event was read from
    fields: Mapping[str, Location] = field(default_factory=dict)  # JSON pointer -> where its value came from


@dataclass
class Context:
    message: Message
    codes: CodeMap
    rules: RadiologyRules
    site: tzinfo
    drafts: list[Draft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)  # (system, code) the mapping does not know
    read: int = 0  # rows read and decided without an event (not given, pending, a code listed under ignore)
    # Parts of an event that was read and published, which carepath does not use (a symptom's body site
    # outside the spine): answered AA with an ERR of severity W naming each, never dropped without a word.
    warnings: list[Problem] = field(default_factory=list)

    def not_mapped(self, segment: Segment, number: int, kind: str, what: str) -> None:
        """A clinically relevant row whose code the mapping does not know: a problem (AE, dead-lettered),
        unless the code is listed under ``ignore`` (read, and deliberately not used)."""
        coded = segment.coded(number)
        if coded is not None and self.codes.is_ignored(kind, coded):
            self.read += 1
            return
        self.problems.append(unknown_code(segment, number, coded, kind, what))
        if coded is not None:
            self.unmapped.extend(coded.codings())

    def when(self, *candidates: tuple[Segment | None, int]) -> tuple[datetime, Location]:
        """The first non-empty timestamp among (segment, field) candidates, else MSH-7."""
        for segment, number in candidates:
            if segment is not None and segment.value(number):
                return self.timestamp(segment, number), segment.location(number)
        msh = self.message.first("MSH")
        assert msh is not None
        if not msh.value(7):
            raise ContentError(
                Problem(
                    "no time: the segment's own time and MSH-7 are empty",
                    REQUIRED_FIELD_MISSING,
                    msh.location(7),
                )
            )
        return self.timestamp(msh, 7), msh.location(7)

    def timestamp(self, segment: Segment, number: int) -> datetime:
        try:
            return parse_ts(segment.value(number), self.site)
        except ValueError as exc:
            raise ContentError(Problem(str(exc), DATA_TYPE_ERROR, segment.location(number))) from None

    def number(self, segment: Segment, number: int, what: str) -> float:
        """A numeric OBX-5/RXE-3 style value; ``<5`` and ``>200`` are read as their bound."""
        text = segment.value(number)
        match = _NUMBER.match(text)
        if match is None and segment.value(number, 2):  # SN: comparator^number
            match = _NUMBER.match(segment.value(number, 1) + segment.value(number, 2))
        if match is None:
            raise ContentError(
                Problem(f"{what} {text!r} is not a number", DATA_TYPE_ERROR, segment.location(number))
            )
        return float(match.group(2))


def unknown_code(segment: Segment, number: int, coded: Coded | None, kind: str, what: str) -> Problem:
    where = segment.location(number)
    if coded is None or not coded.codings():
        said = "is empty" if coded is None else "has text but no code"
        return Problem(
            f"{what} {said}: carepath reads {where.segment}-{number} by its code",
            REQUIRED_FIELD_MISSING,
            where,
        )
    return Problem(
        f"{what} code {code_label(coded)} is not in carepath's code mapping, so it was not read: map it "
        f"(CAREPATH_HL7_CODES), or list it under ignore.{kind} if it is never relevant",
        TABLE_VALUE_NOT_FOUND,
        where,
        UNKNOWN_CODE,
    )


def code_label(coded: Coded) -> str:
    """A code and its coding system as they may be quoted back (never the text of a CWE)."""
    parts = []
    for system, code in coded.codings():
        shown_code = code if _CODE.match(code) else f"[{len(code)} characters]"
        shown_system = system if _CODE.match(system) else (f"[{len(system)} characters]" if system else "")
        parts.append(f"{shown_code} ({shown_system or 'no coding system'})")
    return " / ".join(parts) if parts else "(no code)"


def whole(value: float) -> int | float:
    """An integral float as int, so 8.0 is written 8."""
    return int(value) if value.is_integer() else value
