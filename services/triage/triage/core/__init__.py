"""The triage core: red-flag rules as a pure function of (patient state, event, now, pathway).

Standard library only (PyYAML in the pathway loader). No broker, no clock, no I/O in ``evaluate``.
"""

from pathlib import Path as _Path

from carepath.compiled import check as _check_compiled
from triage.core import engine as _engine
from triage.core.engine import evaluate
from triage.core.events import ClinicalEvent, EventError, parse_event
from triage.core.loader import load_pathway
from triage.core.outcome import Escalation, Outcome
from triage.core.pathway import Pathway, PathwayError
from triage.core.state import PatientState

# Whether these modules run compiled (README "The compiled core"); an ImportError if they were compiled
# from other sources than those beside them.
COMPILED = _check_compiled(_engine.__file__, _Path(__file__).resolve().parent.parent)

__all__ = [
    "COMPILED",
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
