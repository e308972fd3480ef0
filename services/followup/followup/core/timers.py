"""Firing what is due: every pending step whose time has come, in time order, each exactly once."""

from __future__ import annotations

from datetime import datetime

from followup.core.applying import cancel_resolved
from followup.core.ids import reminder_id
from followup.core.pathway import FollowupPathway
from followup.core.reminders import Reminder, build_reminder
from followup.core.state import RESOLUTION_CAUSE_WAIT, PatientExpectations


def fire_due(
    exps: PatientExpectations, now: datetime, pathway: FollowupPathway
) -> tuple[PatientExpectations, list[Reminder]]:
    """Fire the steps due at ``now``. A warning whose deadline has already passed is skipped (the
    overdue reminder says more); chain levels all fire, late ones with their lateness.

    A step listed in ``exps.sending`` was handed to the broker before a restart without its "fired"
    state being written: it fires again as it fired then (same moment, so the same reminder, byte for
    byte), and ``sending`` is emptied.

    An expectation whose escalation's resolution waits for its cause fires nothing; when the wait is
    over (``RESOLUTION_CAUSE_WAIT``) the resolution is applied as it stands.
    """
    expired = [
        exp.id
        for exp in exps.open.values()
        if exp.resolving is not None and exp.resolving.at + RESOLUTION_CAUSE_WAIT <= now
    ]
    if expired:
        exps = exps.copy()
        for exp_id in expired:
            waiting = exps.open[exp_id] = exps.open[exp_id].copy()
            assert waiting.resolving is not None
            cancel_resolved(exps, waiting, waiting.resolving)
    due = sorted(
        (step.due, exp.id, index)
        for exp in exps.open.values()
        if exp.resolving is None
        for index, step in enumerate(exp.steps)
        if step.status == "pending" and step.due <= now
    )
    if not due and not expired:
        if not exps.needs_prune(now) and not exps.sending:
            return exps, []
        state = exps.copy()
        state.sending = {}
        state.prune(now)
        return state, []
    state = exps.copy()
    state.sending = {}
    copied: set[str] = set()
    reminders: list[Reminder] = []
    for _, exp_id, index in due:
        exp = state.open.get(exp_id)
        if exp is None:
            continue
        if exp_id not in copied:
            exp = state.open[exp_id] = exp.copy()
            copied.add(exp_id)
        rule = pathway.find(exp.rule)
        if rule is None:  # the rule was taken out of the pathway: nothing is expected any more
            state.close(exp, "withdrawn", now)
            continue
        step = exp.steps[index]
        at = exps.sending.get(reminder_id(exp.id, step.kind, step.level), now)
        if step.kind == "warning" and at >= exp.deadline:
            step.status = "skipped"
            continue
        step.status = "fired"
        step.fired_at = at
        reminders.append(build_reminder(exp, step, rule, at, pathway))
    state.prune(now)
    return state, reminders
