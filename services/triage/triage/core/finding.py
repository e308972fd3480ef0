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


@dataclass(frozen=True, slots=True)
class Explanation:
    words: dict[str, str]  # values for the placeholders of the rule's reason
    evidence: list[Evidence]


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str  # which rule of the group is met
    case: str  # which of the rule's cases (selects severity, reason and actions)
    anchor: int  # clinical time (us) the rule became true: deadlines count from here
    last: int  # clinical time (us) of the newest fact behind the finding
    explain: Callable[[], Explanation]
    conditions: frozenset[str] = frozenset()  # extra conditions that select actions


@dataclass(frozen=True, slots=True)
class Resolution:
    time: int  # clinical time (us) of the fact that closed the question
    text: str
    evidence: list[Evidence]


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
