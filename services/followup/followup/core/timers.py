"""Firing what is due: every pending step whose time has come, in time order, each exactly once."""

from __future__ import annotations

from datetime import datetime

from followup.core.pathway import FollowupPathway
from followup.core.reminders import Reminder, build_reminder
from followup.core.state import PatientExpectations


def fire_due(
    exps: PatientExpectations, now: datetime, pathway: FollowupPathway
) -> tuple[PatientExpectations, list[Reminder]]:
    """Fire the steps due at ``now``. A warning whose deadline has already passed is skipped (the
    overdue reminder says more); chain levels all fire, late ones with their lateness."""
    due = sorted(
        (step.due, exp.id, index)
        for exp in exps.open.values()
        for index, step in enumerate(exp.steps)
        if step.status == "pending" and step.due <= now
    )
    if not due:
        if not exps.needs_prune(now):
            return exps, []
        state = exps.copy()
        state.prune(now)
        return state, []
    state = exps.copy()
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
        if step.kind == "warning" and now >= exp.deadline:
            step.status = "skipped"
            continue
        step.status = "fired"
        step.fired_at = now
        reminders.append(build_reminder(exp, step, rule, now, pathway))
    state.prune(now)
    return state, reminders
