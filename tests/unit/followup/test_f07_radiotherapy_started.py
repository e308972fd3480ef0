"""F7: with MSCC confirmed and radiotherapy decided, expect radiotherapy started within 24 hours of the
decision.

Source: NICE QS56 (2023) quality statement 6 [P]. Chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, care_step, escalation, imaging, treatment

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "mscc_coordinator", at(hours=26)), ("overdue", 2, "consultant", at(hours=30))]


def mscc_confirmed() -> Patient:
    p = Patient()
    p.receive(imaging(at(0), findings=[("cord_compression", "confirmed")]))
    return p


def test_radiotherapy_in_time_sends_no_reminder() -> None:
    p = mscc_confirmed()
    p.receive(care_step(at(hours=2), "decision_to_treat", decision="radiotherapy"))
    p.receive(treatment(at(hours=20), "palliative_radiotherapy", "started", agent="8 Gy single fraction"))
    p.run_until(at(days=5))
    assert p.reminders("F7") == []


def test_no_radiotherapy_escalates() -> None:
    p = mscc_confirmed()
    p.receive(care_step(at(hours=2), "decision_to_treat", decision="radiotherapy"))
    p.run_until(at(days=5))
    assert p.reminders("F7") == NOT_MET


def test_radiotherapy_after_level_1_stops_level_2() -> None:
    p = mscc_confirmed()
    p.receive(care_step(at(hours=2), "decision_to_treat", decision="radiotherapy"))
    p.run_until(at(hours=27))
    p.receive(treatment(at(hours=28), "palliative_radiotherapy", "administered"))
    p.run_until(at(days=5))
    assert p.reminders("F7") == NOT_MET[:1]


def test_an_r8_escalation_confirms_mscc_too() -> None:
    p = Patient()
    p.receive(escalation("R8"))
    p.receive(care_step(at(hours=2), "decision_to_treat", decision="radiotherapy"))
    assert "F7" in p.open_rules()


def test_radiotherapy_decided_without_confirmed_mscc_is_not_this_standard() -> None:
    p = Patient()
    p.receive(imaging(at(0), findings=[("cord_compression", "possible")]))
    p.receive(care_step(at(hours=2), "decision_to_treat", decision="radiotherapy"))
    assert "F7" not in p.open_rules()


def test_a_surgical_decision_does_not_open_it() -> None:
    p = mscc_confirmed()
    p.receive(care_step(at(hours=2), "decision_to_treat", decision="surgery"))
    assert "F7" not in p.open_rules()
