"""Per-patient figures the followup gauges add up, kept beside the due index so that a scrape never has
to decode every patient's state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from followup.core import PatientExpectations

ACKNOWLEDGEMENT_RULE = "A1"


@dataclass(frozen=True)
class Summary:
    open_by_expectation: Counter[str] = field(default_factory=Counter)
    deadlines: tuple[float, ...] = ()
    oldest_unacked_emergency: float | None = None  # when that escalation was raised (epoch seconds)

    @property
    def empty(self) -> bool:
        return not self.open_by_expectation


EMPTY = Summary()


def summarise(exps: PatientExpectations) -> Summary:
    """The figures of the expectations the worklist shows as open (:meth:`PatientExpectations.open_items`),
    read from the state itself: once per patient written, so without the worklist's text."""
    if not exps.open:
        return EMPTY
    counts: Counter[str] = Counter()
    deadlines: list[float] = []
    oldest: float | None = None
    for exp in exps.open.values():
        if exp.resolving is not None:  # not on the worklist: nothing left to act on
            continue
        counts[exp.rule] += 1
        deadlines.append(exp.deadline.timestamp())
        if exp.rule == ACKNOWLEDGEMENT_RULE and exp.severity == "emergency" and not exp.acknowledged:
            opened = exp.anchor.timestamp()
            oldest = opened if oldest is None or opened < oldest else oldest
    if not counts:
        return EMPTY
    return Summary(open_by_expectation=counts, deadlines=tuple(deadlines), oldest_unacked_emergency=oldest)
