"""What ``evaluate`` returns: the new state and the escalation events to publish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from triage.core.state import PatientState


@dataclass(frozen=True)
class Escalation:
    cloudevent_id: str  # "<escalation_id>.r<revision>"
    type: str  # carepath.escalation.raised.v1 | .updated.v1 | .resolved.v1
    change: str  # raised | updated | resolved
    rule_id: str  # "R1"
    severity: str  # emergency | urgent | routine
    data: dict[str, Any]  # the escalation data object of the contract (JSON-safe)


class Outcome(NamedTuple):
    state: PatientState
    escalations: list[Escalation]
    duplicate: bool
