"""The follow-up half of the pathway, as the engine reads it once ``followup.yaml`` has been validated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TypeVar

from followup.core.durations import Duration
from followup.core.patterns import EventPattern, OpeningPattern

T = TypeVar("T")


class PathwayError(ValueError):
    """The pathway definition is not valid; the message names the file, the place and the problem."""


@dataclass(frozen=True)
class Deadline:
    within: Duration
    evidence: str


@dataclass(frozen=True)
class WarningAt:
    """A reminder before the deadline, ``at`` after the clock start."""

    at: Duration
    notify: str
    evidence: str


@dataclass(frozen=True)
class Level:
    """One level of the escalation chain; level 1 fires at the deadline, level n ``after`` level n-1."""

    notify: str
    evidence: str
    after: Duration | None = None


@dataclass(frozen=True)
class PlannedStep:
    """A step of the plan: ``offset`` after the clock start, notify ``notify``."""

    kind: str  # "warning" | "overdue"
    level: int
    offset: timedelta
    notify: str

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.level}"


@dataclass(frozen=True)
class Timing:
    deadline: Deadline
    warnings: tuple[WarningAt, ...]
    chain: tuple[Level, ...]

    def plan(self) -> tuple[PlannedStep, ...]:
        """Warnings then chain levels, in time order."""
        steps = [
            PlannedStep("warning", number, warning.at.delta, warning.notify)
            for number, warning in enumerate(self.warnings, start=1)
        ]
        offset = self.deadline.within.delta
        for number, level in enumerate(self.chain, start=1):
            if level.after is not None:
                offset += level.after.delta
            steps.append(PlannedStep("overdue", number, offset, level.notify))
        return tuple(steps)


@dataclass(frozen=True)
class Satisfier:
    """An event that meets a requirement; ``earliest`` after the clock start at the soonest."""

    pattern: EventPattern | OpeningPattern
    earliest: Duration | None = None


@dataclass(frozen=True)
class Requirement:
    name: str
    any_of: tuple[Satisfier, ...]


@dataclass(frozen=True)
class Condition:
    """The record holds an event matching ``any_recorded`` with none matching ``unless_later`` after it."""

    any_recorded: tuple[EventPattern, ...]
    unless_later: tuple[EventPattern, ...] = ()


@dataclass(frozen=True)
class ExpectationRule:
    id: str
    name: str
    expected: str
    opened_by: tuple[EventPattern, ...]
    satisfied_when: tuple[Requirement, ...]
    cancelled_by: tuple[EventPattern | OpeningPattern, ...]
    source: str
    evidence: str
    timing: Timing | None = None
    timing_by_severity: Mapping[str, Timing] | None = None
    only_if: Condition | None = None
    repeat_opening: str = "merge"  # "merge" | "separate"
    clock_starts: str = "at_evidence"  # "at_evidence" | "at_raised" (escalation openings only)
    strictly_after: bool = False  # satisfying events must be later than the clock start
    note: str = ""

    def timing_for(self, severity: str | None) -> Timing:
        if self.timing_by_severity is not None:
            return self.timing_by_severity[severity or "routine"]
        assert self.timing is not None  # the loader guarantees one of the two
        return self.timing

    @property
    def requirement_names(self) -> tuple[str, ...]:
        return tuple(requirement.name for requirement in self.satisfied_when)

    @cached_property
    def answered_by(self) -> frozenset[str]:
        """The event kinds that can meet or cancel it (any other event passes it by)."""
        kinds = {pattern.kind for pattern in self.cancelled_by}
        kinds.update(s.pattern.kind for requirement in self.satisfied_when for s in requirement.any_of)
        return frozenset(kinds)


@dataclass(frozen=True)
class FollowupPathway:
    id: str
    version: str
    title: str
    status: str
    expectations: tuple[ExpectationRule, ...]
    # Every pattern whose latest match is remembered per patient (satisfiers and conditions).
    remembered: tuple[EventPattern, ...] = field(default=())
    _by_id: Mapping[str, ExpectationRule] = field(default_factory=dict, repr=False, compare=False)

    def find(self, rule_id: str) -> ExpectationRule | None:
        return self._by_id.get(rule_id)

    @cached_property
    def remembered_by_kind(self) -> Mapping[str, tuple[EventPattern, ...]]:
        return _by_kind((pattern.kind, pattern) for pattern in self.remembered)

    @cached_property
    def openers_by_kind(self) -> Mapping[str, tuple[tuple[ExpectationRule, EventPattern], ...]]:
        """For each event kind, the (rule, opening pattern) pairs in pathway order."""
        return _by_kind((p.kind, (rule, p)) for rule in self.expectations for p in rule.opened_by)

    @property
    def stamp(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version}


def _by_kind(pairs: Iterable[tuple[str, T]]) -> dict[str, tuple[T, ...]]:
    table: dict[str, list[T]] = {}
    for kind, item in pairs:
        table.setdefault(kind, []).append(item)
    return {kind: tuple(items) for kind, items in table.items()}
