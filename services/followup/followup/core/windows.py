"""When an event counts towards an expectation: the time window and the acknowledgement targets."""

from __future__ import annotations

from datetime import datetime

from followup.core.ids import escalation_of, split_reminder_id
from followup.core.pathway import Condition, ExpectationRule, Satisfier
from followup.core.patterns import EventPattern
from followup.core.state import OpenExpectation, PatientExpectations


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


def condition_holds(condition: Condition, state: PatientExpectations) -> bool:
    """One ``any_recorded`` entry holds: an escalation of its rules is open, or the latest event matching
    it is recorded and no ``unless_later`` event is later than that."""
    facts = state.facts
    recorded = [
        facts[p.key].time for p in condition.any_recorded if p.kind != "escalation_open" and p.key in facts
    ]
    if recorded:
        latest = max(recorded)
        if not any(p.key in facts and facts[p.key].time > latest for p in condition.unless_later):
            return True
    open_rules = set(state.escalations.values())
    return any(
        p.kind == "escalation_open" and any(rule in open_rules for rule in _rules(p))
        for p in condition.any_recorded
    )


def _rules(pattern: EventPattern) -> frozenset[str]:
    return next((values for name, values in pattern.constraints if name == "rules"), frozenset())
