"""F14: after hypercalcaemia is treated, expect calcium rechecked within 48 hours of starting
rehydration.

Source: Society for Endocrinology emergency guidance on hypercalcaemia (2016) [S]. Not counting results
from the first 24 hours, and the chain roles, are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, escalation, lab, resolved, treatment

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "acute_oncology", at(hours=49)), ("overdue", 2, "consultant", at(hours=73))]


def hypercalcaemia() -> Patient:
    p = Patient()
    p.receive(escalation("R6b", severity="urgent"))
    return p


def test_recheck_in_time_sends_no_reminder() -> None:
    p = hypercalcaemia()
    p.receive(treatment(at(hours=1), "iv_fluids", "started"))
    p.receive(lab(at(hours=30), test="calcium", value=2.7))
    p.run_until(at(days=7))
    assert p.reminders("F14") == []


def test_no_recheck_reminds_then_escalates() -> None:
    p = hypercalcaemia()
    p.receive(treatment(at(hours=1), "iv_fluids", "started"))
    p.run_until(at(days=7))
    assert p.reminders("F14") == NOT_MET


def test_a_result_during_rehydration_is_not_the_recheck() -> None:
    p = hypercalcaemia()
    p.receive(treatment(at(hours=1), "iv_fluids", "started"))
    p.receive(lab(at(hours=10)))
    p.run_until(at(days=7))
    assert p.reminders("F14") == NOT_MET


def test_recheck_after_the_reminder_stops_the_escalation() -> None:
    p = hypercalcaemia()
    p.receive(treatment(at(hours=1), "iv_fluids", "started"))
    p.run_until(at(hours=50))
    p.receive(lab(at(hours=51)))
    p.run_until(at(days=7))
    assert p.reminders("F14") == NOT_MET[:1]


def test_fluids_and_bisphosphonate_are_one_treatment_episode() -> None:
    p = hypercalcaemia()
    p.receive(treatment(at(hours=1), "iv_fluids", "started"))
    p.receive(treatment(at(hours=8), "bisphosphonate", "administered", agent="zoledronic acid"))
    p.run_until(at(days=7))
    assert p.reminders("F14") == NOT_MET


def test_fluids_without_hypercalcaemia_do_not_open_it() -> None:
    p = Patient()
    p.receive(treatment(at(0), "iv_fluids", "started"))
    assert "F14" not in p.open_rules()


def test_fluids_after_the_hypercalcaemia_was_resolved_do_not_open_it() -> None:
    p = hypercalcaemia()
    p.receive(resolved("R6b", at(hours=5)))
    p.receive(treatment(at(hours=6), "iv_fluids", "started"))
    assert "F14" not in p.open_rules()


def test_a_milder_hypercalcaemia_escalation_resolved_on_step_up_does_not_hide_the_open_one() -> None:
    p = Patient()
    p.receive(escalation("R6c", severity="routine", escalation_id="esc-R6c-1"))
    p.receive(escalation("R6b", severity="urgent", raised_at=at(hours=2), escalation_id="esc-R6b-1"))
    p.receive(resolved("R6c", at(hours=2, minutes=1), escalation_id="esc-R6c-1"))
    p.receive(treatment(at(hours=3), "iv_fluids", "started"))
    assert "F14" in p.open_rules()
