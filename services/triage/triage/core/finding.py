"""What a rule's detector reports: a finding (the rule is met) or a resolution (its question is closed).

The words and evidence of a finding are rendered only when an escalation is actually published: most
evaluations find an escalation already open at the same severity and publish nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from triage.core.times import iso

Evidence = dict[str, Any]


@dataclass(frozen=True, slots=True, init=False)
class Explanation:
    words: dict[str, str]  # values for the placeholders of the rule's reason
    evidence: list[Evidence]

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, words: dict[str, str], evidence: list[Evidence]) -> None:
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "evidence", evidence)


@dataclass(frozen=True, slots=True, init=False)
class Finding:
    rule_id: str  # which rule of the group is met
    case: str  # which of the rule's cases (selects severity, reason and actions)
    anchor: int  # clinical time (us) the rule became true: deadlines count from here
    last: int  # clinical time (us) of the newest fact behind the finding
    explain: Callable[[], Explanation]
    conditions: frozenset[str] = frozenset()  # extra conditions that select actions

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        rule_id: str,
        case: str,
        anchor: int,
        last: int,
        explain: Callable[[], Explanation],
        conditions: frozenset[str] = frozenset(),
    ) -> None:
        object.__setattr__(self, "rule_id", rule_id)
        object.__setattr__(self, "case", case)
        object.__setattr__(self, "anchor", anchor)
        object.__setattr__(self, "last", last)
        object.__setattr__(self, "explain", explain)
        object.__setattr__(self, "conditions", conditions)


@dataclass(frozen=True, slots=True, init=False)
class Resolution:
    time: int  # clinical time (us) of the fact that closed the question
    text: str
    evidence: list[Evidence]

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, time: int, text: str, evidence: list[Evidence]) -> None:
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "evidence", evidence)


def evidence(
    event_id: str,
    event_type: str,
    fact: str,
    value: Any,
    time: int,
    unit: str | None = None,
    threshold: str | None = None,
) -> Evidence:
    item: Evidence = {"event_id": event_id, "event_type": event_type, "fact": fact, "value": value}
    if unit is not None:
        item["unit"] = unit
    if threshold is not None:
        item["threshold"] = threshold
    item["time"] = iso(time)
    return item


def rounded(value: float) -> float:
    """Values as a clinician reads them in evidence: two decimals."""
    return round(value, 2)
