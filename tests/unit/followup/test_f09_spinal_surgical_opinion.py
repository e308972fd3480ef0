"""F9: when spinal instability is suspected or the patient is immobilised, expect expert spinal surgical
advice within 24 hours.

Source: NICE NG234 (2023) via BMJ 2023;383:p1973 [P]. Chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, care_step, escalation, resolved

pytestmark = pytest.mark.unit

NOT_MET = [
    ("overdue", 1, "mscc_coordinator", at(hours=24)),
    ("overdue", 2, "spinal_surgeon", at(hours=28)),
    ("overdue", 3, "consultant", at(hours=32)),
]


def test_opinion_in_time_sends_no_reminder() -> None:
    p = Patient()
    p.receive(escalation("R10", severity="urgent"))
    p.receive(care_step(at(hours=12), "spinal_surgical_opinion"))
    p.run_until(at(days=3))
    assert p.reminders("F9") == []


def test_no_opinion_escalates_then_stops() -> None:
    p = Patient()
    p.receive(escalation("R11", severity="urgent"))
    p.run_until(at(days=5))
    assert p.reminders("F9") == NOT_MET


def test_opinion_after_level_1_stops_the_chain() -> None:
    p = Patient()
    p.receive(escalation("R10", severity="urgent"))
    p.run_until(at(hours=25))
    p.receive(care_step(at(hours=26), "spinal_surgical_opinion"))
    p.run_until(at(days=5))
    assert p.reminders("F9") == NOT_MET[:1]


@pytest.mark.parametrize("conclusion", ["instability_suspected", "immobilised"])
def test_a_clinician_review_opens_it(conclusion: str) -> None:
    p = Patient()
    p.receive(care_step(at(0), "clinician_review", conclusion=conclusion))
    p.run_until(at(days=5))
    assert p.reminders("F9") == NOT_MET


def test_r10_and_r11_from_the_same_scan_share_one_set_of_reminders() -> None:
    p = Patient()
    p.receive(escalation("R10", severity="urgent"))
    p.receive(escalation("R11", severity="urgent", escalation_id="esc-R11-1"))
    p.run_until(at(days=5))
    assert p.reminders("F9") == NOT_MET


def test_resolving_the_escalation_leaves_a_clinicians_concern_standing() -> None:
    p = Patient()
    p.receive(escalation("R10", severity="urgent"))
    p.receive(care_step(at(hours=1), "clinician_review", conclusion="instability_suspected"))
    p.receive(resolved("R10", at(hours=2)))
    p.run_until(at(days=5))
    assert p.reminders("F9") == NOT_MET


def test_resolution_cancels_an_escalation_opened_one() -> None:
    p = Patient()
    p.receive(escalation("R10", severity="urgent"))
    p.receive(resolved("R10", at(hours=2)))
    p.run_until(at(days=5))
    assert p.reminders("F9") == []
