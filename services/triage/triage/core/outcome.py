"""What ``evaluate`` returns: the new state and the escalation events to publish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triage.core.state import PatientState


@dataclass(frozen=True, init=False)
class Escalation:
    cloudevent_id: str  # "<escalation_id>.r<revision>"
    type: str  # carepath.escalation.raised.v1 | .updated.v1 | .resolved.v1
    change: str  # raised | updated | resolved
    rule_id: str  # "R1"
    severity: str  # emergency | urgent | routine
    data: dict[str, Any]  # the escalation data object of the contract (JSON-safe)

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self, cloudevent_id: str, type: str, change: str, rule_id: str, severity: str, data: dict[str, Any]
    ) -> None:
        object.__setattr__(self, "cloudevent_id", cloudevent_id)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "change", change)
        object.__setattr__(self, "rule_id", rule_id)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "data", data)


@dataclass(frozen=True, init=False)
class Outcome:
    state: PatientState
    escalations: list[Escalation]
    duplicate: bool

    # written out so that mypyc compiles it (a NamedTuple is built by a Python ``__new__``; README "The
    # compiled core")
    def __init__(self, state: PatientState, escalations: list[Escalation], duplicate: bool) -> None:
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "escalations", escalations)
        object.__setattr__(self, "duplicate", duplicate)
