"""F11: after palliative radiotherapy to a painful bone metastasis, expect the pain response assessed at
about 4 weeks; oncology review if it is not.

Source: van der Velden et al. 2018 [P], pain response assessed at about 4 weeks. Counting reports from
3 weeks, the day-24 reminder and the chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, pain, treatment

pytestmark = pytest.mark.unit

NOT_MET = [
    ("warning", 1, "acute_oncology", at(days=24)),
    ("overdue", 1, "acute_oncology", at(days=28)),
    ("overdue", 2, "consultant", at(days=35)),
]


def test_assessment_at_three_weeks_sends_no_reminder() -> None:
    p = Patient()
    p.receive(treatment(at(0), "palliative_radiotherapy", "started", agent="8 Gy"))
    p.receive(pain(at(days=22), nrs=2))
    p.run_until(at(days=60))
    assert p.reminders("F11") == []


def test_no_assessment_reminds_then_escalates_to_oncology() -> None:
    p = Patient()
    p.receive(treatment(at(0), "palliative_radiotherapy", "started"))
    p.run_until(at(days=60))
    assert p.reminders("F11") == NOT_MET


def test_a_pain_report_soon_after_treatment_is_not_the_response_assessment() -> None:
    p = Patient()
    p.receive(treatment(at(0), "palliative_radiotherapy", "started"))
    p.receive(pain(at(days=3), nrs=6))
    p.run_until(at(days=60))
    assert p.reminders("F11") == NOT_MET


def test_assessment_after_the_reminder_stops_the_escalation() -> None:
    p = Patient()
    p.receive(treatment(at(0), "palliative_radiotherapy", "started"))
    p.run_until(at(days=25))
    p.receive(pain(at(days=26), nrs=3))
    p.run_until(at(days=60))
    assert p.reminders("F11") == NOT_MET[:1]


def test_each_fraction_does_not_open_another() -> None:
    p = Patient()
    p.receive(treatment(at(0), "palliative_radiotherapy", "started"))
    for day in range(1, 5):
        p.receive(treatment(at(days=day), "palliative_radiotherapy", "administered"))
    assert p.open_rules() == ["F11"]


def test_a_fraction_recorded_without_a_course_opens_it() -> None:
    """A procedure record (HL7 PR1, a completed Procedure) says a fraction was given, not that a course
    started: the response is still expected four weeks after it, once for the whole course."""
    p = Patient()
    for day in range(5):
        p.receive(treatment(at(days=day), "palliative_radiotherapy", "administered"))
    p.run_until(at(days=60))
    assert p.reminders("F11") == NOT_MET
