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
from intake.hl7.message import Message, Segment
from intake.hl7.problems import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, Location, Problem
from intake.hl7.radiology import RadiologyRules
from intake.hl7.times import parse_ts

_NUMBER = re.compile(r"^\s*([<>]=?)?\s*(\d+(?:\.\d+)?|\.\d+)\s*$")


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
    unmapped: list[str] = field(default_factory=list)  # codes seen that the mapping does not know

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


def whole(value: float) -> int | float:
    """An integral float as int, so 8.0 is written 8."""
    return int(value) if value.is_integer() else value
