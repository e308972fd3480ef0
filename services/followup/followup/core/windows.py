"""When an event counts towards an expectation: the time window and the acknowledgement targets."""

from __future__ import annotations

from datetime import datetime

from followup.core.ids import escalation_of, split_reminder_id
from followup.core.pathway import Condition, ExpectationRule, Satisfier
from followup.core.state import Fact, OpenExpectation


def in_window(moment: datetime, exp: OpenExpectation, rule: ExpectationRule, satisfier: Satisfier) -> bool:
    """Events count from the clock start (strictly after it for ``after_opening``), or from ``earliest``."""
    if satisfier.earliest is not None:
        return moment >= exp.anchor + satisfier.earliest.delta
    return moment > exp.anchor if rule.strictly_after else moment >= exp.anchor


def names_opening(target: str, exp: OpenExpectation) -> bool:
    """An acknowledgement target naming the escalation that opened ``exp``."""
    return escalation_of(target, exp.escalations) is not None


def names_reminder(target: str, exp: OpenExpectation) -> str | None:
    """The kind (warning/overdue) of ``exp``'s sent reminder that ``target`` names, if any."""
    parts = split_reminder_id(target)
    if parts is None or parts[0] != exp.id:
        return None
    _, kind, level = parts
    fired = any(s.kind == kind and s.level == level and s.status == "fired" for s in exp.steps)
    return kind if fired else None


def condition_holds(condition: Condition, facts: dict[str, Fact]) -> bool:
    """The latest ``any_recorded`` fact exists and no ``unless_later`` fact is later than it."""
    recorded = [facts[p.key].time for p in condition.any_recorded if p.key in facts]
    if not recorded:
        return False
    latest = max(recorded)
    return not any(p.key in facts and facts[p.key].time > latest for p in condition.unless_later)
