"""What one clinical, escalation or acknowledgement event does to a patient's expectations:
remember it, cancel or meet what it answers, stop a chain it acknowledges, re-time on a severity
change, and open what it starts."""

from __future__ import annotations

from datetime import UTC, datetime

from followup.core.ids import escalation_of
from followup.core.inputs import ESCALATION_UPDATED, KIND_BY_TYPE, Input
from followup.core.opening import open_expectation
from followup.core.pathway import ExpectationRule, FollowupPathway, Satisfier
from followup.core.patterns import EventPattern
from followup.core.state import Ack, Fact, OpenExpectation, PatientExpectations, Resolving, Step
from followup.core.windows import in_window, names_opening, names_reminder


def apply_event(state: PatientExpectations, event: Input, now: datetime, pathway: FollowupPathway) -> None:
    moment = event.time.astimezone(UTC)
    kind = event.kind
    for pattern in pathway.remembered_by_kind.get(kind, ()):
        if pattern.matches(event):
            state.remember_fact(pattern.key, Fact(moment, event.id))
    if kind == "escalation_raised":
        state.remember_escalation(str(event.data["escalation_id"]), str(event.data["rule"]["id"]))
    elif kind == "escalation_resolved":
        state.remember_escalation(str(event.data["escalation_id"]), None)
    ack: _Acknowledgement | None = None
    if kind == "acknowledgement":
        ack = _Acknowledgement(str(event.data["target_id"]), bool(event.data.get("override", False)))
        state.remember_ack(ack.target, Ack(moment, ack.override))
    for exp in list(state.open.values()):
        rule = pathway.find(exp.rule)
        if rule is not None and kind in rule.answered_by:
            _update(state, exp, rule, event, moment, ack, now)
    _release_resolutions(state, event.id)
    if event.type == ESCALATION_UPDATED and kind == "escalation_raised":
        _retime(state, event, pathway)
    opened: set[str] = set()
    for rule, pattern in pathway.openers_by_kind.get(kind, ()):
        if rule.id not in opened and pattern.matches(event):
            opened.add(rule.id)
            open_expectation(state, rule, event, now)


class _Acknowledgement:
    __slots__ = ("override", "target")

    def __init__(self, target: str, override: bool) -> None:
        self.target = target
        self.override = override


def _update(
    state: PatientExpectations,
    exp: OpenExpectation,
    rule: ExpectationRule,
    event: Input,
    moment: datetime,
    ack: _Acknowledgement | None,
    now: datetime,
) -> None:
    dropped: str | None = None
    for canceller in rule.cancelled_by:
        if isinstance(canceller, EventPattern):
            if canceller.matches(event) and moment >= exp.anchor:
                state.close(exp, "cancelled", now)
                return
        elif canceller.kind == event.kind == "escalation_resolved":
            if event.data["escalation_id"] in exp.escalations:
                dropped = str(event.data["escalation_id"])
        elif (
            canceller.kind == event.kind == "acknowledgement"
            and ack is not None
            and canceller.accepts_override(ack.override)
        ):
            dropped = escalation_of(ack.target, exp.escalations) or dropped
    met = {
        requirement.name: event.id
        for requirement in rule.satisfied_when
        if requirement.name not in exp.met
        and any(_satisfies(s, exp, rule, event, moment, ack) for s in requirement.any_of)
    }
    stopped = names_reminder(ack.target, exp) if ack is not None else None
    if dropped is None and not met and stopped is None:
        return
    exp = exp.copy()
    state.open[exp.id] = exp
    exp.met.update(met)
    if len(exp.met) == len(rule.satisfied_when):
        state.close(exp, "satisfied", now)
        return
    if dropped is not None:
        if len(exp.escalations) == 1 and not exp.events and event.kind == "escalation_resolved":
            awaiting = _unseen_causes(state, rule, event)
            if awaiting:
                exp.resolving = Resolving(dropped, now, awaiting)
                return
        exp.escalations.remove(dropped)
        if not exp.escalations and not exp.events:
            state.close(exp, "cancelled", now)
            return
    if stopped is not None:
        # An acknowledged overdue reminder stops the rest of the chain; an acknowledged warning stops
        # only the remaining warnings, so the deadline still fires.
        for step in exp.steps:
            if step.status == "pending" and (stopped == "overdue" or step.kind == "warning"):
                step.status = "stopped"


def _unseen_causes(state: PatientExpectations, rule: ExpectationRule, resolution: Input) -> tuple[str, ...]:
    """The events a resolution cites as its evidence that could meet ``rule`` and have not reached this
    patient's state yet (the MRI that excluded compression, still on its way here)."""
    kinds = {
        satisfier.pattern.kind
        for requirement in rule.satisfied_when
        for satisfier in requirement.any_of
        if isinstance(satisfier.pattern, EventPattern)
    }
    causes = []
    for item in resolution.data.get("evidence") or ():
        if not isinstance(item, dict):
            continue
        event_id, event_type = item.get("event_id"), item.get("event_type")
        if (
            isinstance(event_id, str)
            and KIND_BY_TYPE.get(str(event_type)) in kinds
            and event_id not in state.seen
            and event_id not in causes
        ):
            causes.append(event_id)
    return tuple(causes)


def _release_resolutions(state: PatientExpectations, event_id: str) -> None:
    """``event_id`` has been applied: a resolution waiting for it (and nothing else) now cancels what the
    event did not meet, dated when the resolution was read."""
    for exp in list(state.open.values()):
        waiting = exp.resolving
        if waiting is None or event_id not in waiting.awaiting:
            continue
        rest = tuple(e for e in waiting.awaiting if e != event_id)
        exp = state.open[exp.id] = exp.copy()
        exp.resolving = Resolving(waiting.escalation_id, waiting.at, rest) if rest else None
        if not rest:
            cancel_resolved(state, exp, waiting)


def cancel_resolved(state: PatientExpectations, exp: OpenExpectation, waiting: Resolving) -> None:
    """Apply a resolution that waited: the escalation drops off ``exp``, which is cancelled."""
    exp.resolving = None
    if waiting.escalation_id in exp.escalations:
        exp.escalations.remove(waiting.escalation_id)
    if not exp.escalations and not exp.events:
        state.close(exp, "cancelled", waiting.at)


def _satisfies(
    satisfier: Satisfier,
    exp: OpenExpectation,
    rule: ExpectationRule,
    event: Input,
    moment: datetime,
    ack: _Acknowledgement | None,
) -> bool:
    pattern = satisfier.pattern
    if isinstance(pattern, EventPattern):
        return pattern.matches(event) and in_window(moment, exp, rule, satisfier)
    if ack is None or not pattern.accepts_override(ack.override):
        return False
    return ("opening" in pattern.of and names_opening(ack.target, exp)) or (
        "reminder" in pattern.of and names_reminder(ack.target, exp) is not None
    )


def _retime(state: PatientExpectations, event: Input, pathway: FollowupPathway) -> None:
    """A severity change re-times the unfired steps of expectations timed by severity (A1)."""
    escalation_id, severity = str(event.data["escalation_id"]), str(event.data["severity"])
    for exp in list(state.open.values()):
        rule = pathway.find(exp.rule)
        if rule is None or rule.timing_by_severity is None or exp.severity == severity:
            continue
        if not exp.escalations or exp.escalations[0] != escalation_id:
            continue
        timing = rule.timing_for(severity)
        new = exp.copy()
        kept = {step.key: step for step in new.steps if step.status != "pending"}
        new.severity = severity
        new.deadline = new.anchor + timing.deadline.within.delta
        new.steps = [
            kept.get(planned.key)
            or Step(planned.kind, planned.level, new.anchor + planned.offset, planned.notify)
            for planned in timing.plan()
        ]
        state.open[exp.id] = new
