"""F12: when a patient with cancer has back pain judged non-specific, expect a repeat clinical review
within 2 weeks.

Source: Scottish referral guidelines for suspected cancer [P], keep under frequent review; 2 weeks and
the chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, care_step, diagnosis

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "gp", at(days=14)), ("overdue", 2, "acute_oncology", at(days=21))]


def with_cancer(status: str = "remission") -> Patient:
    p = Patient()
    p.receive(diagnosis(at(days=-400), status=status))
    return p


def test_review_in_time_sends_no_reminder() -> None:
    p = with_cancer()
    p.receive(care_step(at(0), "clinician_review", conclusion="non_specific_back_pain"))
    p.receive(care_step(at(days=10), "clinician_review"))
    p.run_until(at(days=40))
    assert p.reminders("F12") == []


def test_no_review_reminds_then_escalates() -> None:
    p = with_cancer()
    p.receive(care_step(at(0), "clinician_review", conclusion="non_specific_back_pain"))
    p.run_until(at(days=40))
    assert p.reminders("F12") == NOT_MET


def test_review_after_the_reminder_stops_the_escalation() -> None:
    p = with_cancer()
    p.receive(care_step(at(0), "clinician_review", conclusion="non_specific_back_pain"))
    p.run_until(at(days=15))
    p.receive(care_step(at(days=16), "clinician_review", conclusion="red_flags_present"))
    p.run_until(at(days=40))
    assert p.reminders("F12") == NOT_MET[:1]


def test_a_repeat_review_still_non_specific_starts_the_next_two_weeks() -> None:
    p = with_cancer()
    p.receive(care_step(at(0), "clinician_review", conclusion="non_specific_back_pain"))
    p.receive(care_step(at(days=10), "clinician_review", conclusion="non_specific_back_pain"))
    p.run_until(at(days=25))
    assert p.reminders("F12") == [("overdue", 1, "gp", at(days=24))]


def test_without_a_cancer_history_it_does_not_apply() -> None:
    p = Patient()
    p.receive(care_step(at(0), "clinician_review", conclusion="non_specific_back_pain"))
    assert "F12" not in p.open_rules()


def test_a_cancer_diagnosis_later_refuted_does_not_count() -> None:
    p = with_cancer(status="active")
    p.receive(diagnosis(at(days=-10), verification="refuted"))
    p.receive(care_step(at(0), "clinician_review", conclusion="non_specific_back_pain"))
    assert "F12" not in p.open_rules()
