"""Per-patient figures the followup gauges add up, kept beside the due index so that a scrape never has
to decode every patient's state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from carepath.envelope import parse_time
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


def summarise(exps: PatientExpectations) -> Summary:
    items = exps.open_items()
    if not items:
        return Summary()
    unacked = [
        parse_time(i["opened_at"]).timestamp()
        for i in items
        if i["rule"] == ACKNOWLEDGEMENT_RULE
        and i.get("severity") == "emergency"
        and i["status"] != "acknowledged"
    ]
    return Summary(
        open_by_expectation=Counter(i["rule"] for i in items),
        deadlines=tuple(parse_time(i["due_at"]).timestamp() for i in items),
        oldest_unacked_emergency=min(unacked) if unacked else None,
    )
