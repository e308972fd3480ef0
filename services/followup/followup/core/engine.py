"""``advance``: the follow-up core as one pure function of (expectations, event or tick, now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from followup.core.applying import apply_event
from followup.core.inputs import Input, Tick
from followup.core.pathway import FollowupPathway
from followup.core.reminders import Reminder
from followup.core.state import PatientExpectations
from followup.core.timers import fire_due

__all__ = ["Outcome", "Reminder", "advance"]


@dataclass(frozen=True, init=False)
class Outcome:
    expectations: PatientExpectations
    reminders: list[Reminder]
    duplicate: bool

    # written out so that mypyc compiles it (a NamedTuple is built by a Python ``__new__``; README "The
    # compiled core")
    def __init__(self, expectations: PatientExpectations, reminders: list[Reminder], duplicate: bool) -> None:
        object.__setattr__(self, "expectations", expectations)
        object.__setattr__(self, "reminders", reminders)
        object.__setattr__(self, "duplicate", duplicate)


def advance(
    exps: PatientExpectations, item: Input | Tick, now: datetime, pathway: FollowupPathway
) -> Outcome:
    """Apply one event, or fire what is due at ``now`` for a ``Tick``. ``exps`` is never changed.

    An event never fires reminders itself, even one that opens an expectation whose deadline has
    already passed: the next tick fires it, with its lateness. A redelivered event id changes nothing.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    if isinstance(item, Tick):
        state, reminders = fire_due(exps, now, pathway)
        return Outcome(state, reminders, False)
    if item.patient_id != exps.patient_id:
        raise ValueError("event is for another patient than these expectations")
    if item.id in exps.seen:
        return Outcome(exps, [], True)
    state = exps.copy()
    state.remember_seen(item.id)
    apply_event(state, item, now, pathway)
    state.prune(now)
    return Outcome(state, [], False)
