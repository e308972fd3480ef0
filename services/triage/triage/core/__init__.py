"""The triage core: red-flag rules as a pure function of (patient state, event, now, pathway).

Standard library only (PyYAML in the pathway loader). No broker, no clock, no I/O in ``evaluate``.
"""

from triage.core.engine import evaluate
from triage.core.events import ClinicalEvent, EventError, parse_event
from triage.core.loader import load_pathway
from triage.core.outcome import Escalation, Outcome
from triage.core.pathway import Pathway, PathwayError
from triage.core.state import PatientState

__all__ = [
    "ClinicalEvent",
    "Escalation",
    "EventError",
    "Outcome",
    "Pathway",
    "PathwayError",
    "PatientState",
    "evaluate",
    "load_pathway",
    "parse_event",
]
