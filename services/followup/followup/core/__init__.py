"""The follow-up pure core: expectations with deadlines, reminders and escalation chains.

Standard library only (PyYAML in the pathway loader); the clock is always a parameter.
"""

from pathlib import Path as _Path

from carepath.compiled import check as _check_compiled
from followup.core import engine as _engine
from followup.core.engine import Outcome, advance
from followup.core.inputs import Input, InputError, Tick, parse_input
from followup.core.loader import load_pathway
from followup.core.pathway import ExpectationRule, FollowupPathway, PathwayError
from followup.core.reminders import REMINDER_DUE, REMINDER_OVERDUE, Reminder
from followup.core.state import PatientExpectations

# Whether these modules run compiled (README "The compiled core"); an ImportError if they were compiled
# from other sources than those beside them.
COMPILED = _check_compiled(_engine.__file__, _Path(__file__).resolve().parent.parent)

__all__ = [
    "COMPILED",
    "REMINDER_DUE",
    "REMINDER_OVERDUE",
    "ExpectationRule",
    "FollowupPathway",
    "Input",
    "InputError",
    "Outcome",
    "PathwayError",
    "PatientExpectations",
    "Reminder",
    "Tick",
    "advance",
    "load_pathway",
    "parse_input",
]
