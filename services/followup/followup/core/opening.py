"""Opening an expectation: who opened it, when its clock starts, its reminder plan, and what the
patient's record already shows (an MRI may be reported before the escalation that asks for it)."""

from __future__ import annotations

from datetime import UTC, datetime

from followup.core.ids import escalation_of, expectation_id
from followup.core.inputs import Input, escalation_anchor
from followup.core.pathway import ExpectationRule
from followup.core.patterns import EventPattern, OpeningPattern
from followup.core.state import OpenExpectation, PatientExpectations, Step
from followup.core.windows import condition_holds, in_window


def open_expectation(state: PatientExpectations, rule: ExpectationRule, event: Input, now: datetime) -> None:
    """Open ``rule`` for ``event``, or join the open one of the same episode (``repeat_opening: merge``)."""
    from_escalation = event.kind == "escalation_raised"
    ref = str(event.data["escalation_id"]) if from_escalation else event.id
    if rule.only_if is not None and not condition_holds(rule.only_if, state):
        return
    if _already_opened(state, rule.id, ref):
        return
    anchor = (escalation_anchor(event, rule.clock_starts) if from_escalation else event.time).astimezone(UTC)
    if rule.repeat_opening == "merge":
        for exp in state.open.values():
            if exp.rule == rule.id and anchor <= exp.deadline:
                joined = exp.copy()
                (joined.escalations if from_escalation else joined.events).append(ref)
                if joined.resolving is not None:  # a resolution waiting for its cause no longer cancels it
                    if joined.resolving.escalation_id in joined.escalations:
                        joined.escalations.remove(joined.resolving.escalation_id)
                    joined.resolving = None
                state.open[exp.id] = joined
                return
    exp_id = expectation_id(state.patient_id, rule.id, ref)
    if exp_id in state.open or exp_id in state.closed:
        return
    severity = str(event.data["severity"]) if from_escalation else None
    timing = rule.timing_for(severity)
    exp = OpenExpectation(
        id=exp_id,
        rule=rule.id,
        anchor=anchor,
        deadline=anchor + timing.deadline.within.delta,
        severity=severity,
        escalations=[ref] if from_escalation else [],
        events=[] if from_escalation else [ref],
        met={},
        steps=[Step(p.kind, p.level, anchor + p.offset, p.notify) for p in timing.plan()],
        trace=event.trace,
    )
    state.open[exp_id] = exp
    _apply_record(state, rule, exp, now)


def _already_opened(state: PatientExpectations, rule_id: str, ref: str) -> bool:
    for exp in state.open.values():
        if exp.rule == rule_id and (ref in exp.escalations or ref in exp.events):
            return True
    return any(
        done.rule == rule_id and (ref in done.escalations or ref in done.events)
        for done in state.closed.values()
    )


def _apply_record(
    state: PatientExpectations, rule: ExpectationRule, exp: OpenExpectation, now: datetime
) -> None:
    """Meet requirements from remembered facts and acknowledgements; cancel on an earlier override."""
    for canceller in rule.cancelled_by:
        if isinstance(canceller, OpeningPattern) and canceller.kind == "acknowledgement":
            for target, ack in state.acks.items():
                if escalation_of(target, exp.escalations) and canceller.accepts_override(ack.override):
                    state.close(exp, "cancelled", now)
                    return
    for requirement in rule.satisfied_when:
        for satisfier in requirement.any_of:
            pattern = satisfier.pattern
            if isinstance(pattern, EventPattern):
                fact = state.facts.get(pattern.key)
                if fact is not None and in_window(fact.time, exp, rule, satisfier):
                    exp.met[requirement.name] = fact.event_id
                    break
            elif "opening" in pattern.of:
                ack_id = next((t for t in state.acks if escalation_of(t, exp.escalations)), None)
                if ack_id is not None and pattern.accepts_override(state.acks[ack_id].override):
                    exp.met[requirement.name] = ack_id
                    break
    if len(exp.met) == len(rule.satisfied_when):
        state.close(exp, "satisfied", now)
