"""The follow-up pure core: expectations with deadlines, reminders and escalation chains.

Standard library only (PyYAML in the pathway loader); the clock is always a parameter.
"""

from followup.core.engine import Outcome, advance
from followup.core.inputs import Input, InputError, Tick, parse_input
from followup.core.loader import load_pathway
from followup.core.pathway import ExpectationRule, FollowupPathway, PathwayError
from followup.core.reminders import REMINDER_DUE, REMINDER_OVERDUE, Reminder
from followup.core.state import PatientExpectations

__all__ = [
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
