"""F13: after a routine R4 (one weak risk factor, no cancer history: conservative trial), expect a
reassessment at about 4 weeks; imaging if not improved.

Source: ACP/APS 2007 low back pain guideline [P]. Counting reviews from 3 weeks and the chain roles are
local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, care_step, escalation, imaging, resolved

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "gp", at(days=28)), ("overdue", 2, "consultant", at(days=35))]


def conservative_trial() -> Patient:
    p = Patient()
    p.receive(escalation("R4", severity="routine"))
    return p


def test_reassessment_in_time_sends_no_reminder() -> None:
    p = conservative_trial()
    p.receive(care_step(at(days=25), "clinician_review", conclusion="non_specific_back_pain"))
    p.run_until(at(days=60))
    assert p.reminders("F13") == []


def test_no_reassessment_reminds_then_escalates() -> None:
    p = conservative_trial()
    p.run_until(at(days=60))
    assert p.reminders("F13") == NOT_MET


def test_an_early_review_is_not_the_four_week_reassessment() -> None:
    p = conservative_trial()
    p.receive(care_step(at(days=7), "clinician_review"))
    p.run_until(at(days=60))
    assert p.reminders("F13") == NOT_MET


def test_spinal_imaging_at_any_time_moves_the_work_up_on() -> None:
    p = conservative_trial()
    p.receive(imaging(at(days=10), modality="xray", region="lumbar"))
    p.run_until(at(days=60))
    assert p.reminders("F13") == []


def test_reassessment_after_the_reminder_stops_the_escalation() -> None:
    p = conservative_trial()
    p.run_until(at(days=29))
    p.receive(care_step(at(days=30), "clinician_review"))
    p.run_until(at(days=60))
    assert p.reminders("F13") == NOT_MET[:1]


def test_an_urgent_r4_is_not_a_conservative_trial() -> None:
    p = Patient()
    p.receive(escalation("R4", severity="urgent"))
    assert "F13" not in p.open_rules()


def test_resolution_cancels_it() -> None:
    p = conservative_trial()
    p.receive(resolved("R4", at(days=3)))
    p.run_until(at(days=60))
    assert p.reminders("F13") == []
