"""F3: after R1 (MSCC suspected) or R8 (imaging shows cord compression), expect a whole-spine MRI
reported within 24 hours; warn at 12 hours, overdue at 24 hours, then up the chain.

Source: NICE QS56 (2023) quality statement 3 [P]: adults with suspected MSCC have an MRI of the whole
spine within 24 hours. Warning time and chain roles are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import (
    Patient,
    at,
    care_step,
    escalation,
    imaging,
    resolved,
)

pytestmark = pytest.mark.unit

NOT_MET = [
    ("warning", 1, "mscc_coordinator", at(hours=12)),
    ("overdue", 1, "on_call_registrar", at(hours=24)),
    ("overdue", 2, "consultant", at(hours=26)),
]


def test_mri_reported_in_time_sends_no_reminder() -> None:
    p = Patient()
    p.receive(escalation("R1", evidence_at=at(0)))
    p.receive(imaging(at(hours=10)))
    p.run_until(at(days=5))
    assert p.reminders("F3") == []
    assert "F3" not in p.open_rules()


def test_no_mri_warns_at_12h_then_overdue_at_24h_then_next_level() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    assert [r.kind for r in p.run_until(at(hours=11, minutes=59)) if r.expectation_rule == "F3"] == []
    p.run_until(at(days=10))
    assert p.reminders("F3") == NOT_MET  # and nothing after the last level


def test_mri_after_the_warning_stops_the_overdue() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.run_until(at(hours=13))
    p.receive(imaging(at(hours=20)))
    p.run_until(at(days=3))
    assert p.reminders("F3") == NOT_MET[:1]


def test_mri_after_level_1_stops_level_2() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.run_until(at(hours=25))
    p.receive(imaging(at(hours=25, minutes=30)))
    p.run_until(at(days=3))
    assert p.reminders("F3") == NOT_MET[:2]


def test_r8_raised_from_a_whole_spine_mri_is_met_by_that_mri() -> None:
    p = Patient()
    p.receive(imaging(at(0), findings=[("cord_compression", "confirmed")]))
    p.receive(escalation("R8", evidence_at=at(0), raised_at=at(minutes=1)))
    p.run_until(at(days=3))
    assert p.reminders("F3") == []


def test_mri_recorded_before_the_escalation_arrives_still_counts() -> None:
    """The MRI (2 h after the red flag) is processed before the escalation that asks for it."""
    p = Patient()
    p.receive(imaging(at(hours=2)))
    p.receive(escalation("R1", evidence_at=at(0), raised_at=at(hours=2, minutes=30)))
    p.run_until(at(days=3))
    assert p.reminders("F3") == []


def test_an_mri_older_than_the_red_flag_does_not_count() -> None:
    p = Patient()
    p.receive(imaging(at(days=-30)))
    p.receive(escalation("R1"))
    p.run_until(at(days=3))
    assert p.reminders("F3") == NOT_MET


@pytest.mark.parametrize(
    ("modality", "region", "report_status", "counts"),
    [
        ("mri", "whole_spine", "preliminary", True),
        ("mri", "whole_spine", "amended", True),
        ("ct", "whole_spine", "final", True),
        ("mri", "lumbar", "final", False),
        ("mri", "whole_spine", "cancelled", False),
        ("xray", "whole_spine", "final", False),
    ],
)
def test_which_imaging_reports_count(modality: str, region: str, report_status: str, counts: bool) -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(imaging(at(hours=3), modality=modality, region=region, report_status=report_status))
    p.run_until(at(days=3))
    assert p.reminders("F3") == ([] if counts else NOT_MET)


def test_resolved_escalation_cancels_it() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(resolved("R1", at(hours=5)))
    p.run_until(at(days=3))
    assert p.reminders("F3") == []
    assert p.open_rules() == []


def test_the_mri_that_resolved_the_escalation_meets_it_whichever_arrives_first() -> None:
    """Triage resolves R1 on reading the MRI; followup reads the MRI and the resolution from two topics,
    in either order. Either way the MRI, done in 6 h, met the expectation: it is not "cancelled"."""
    for mri_first in (True, False):
        p = Patient()
        p.receive(escalation("R1"))
        mri = imaging(at(hours=6), findings=[("cord_compression", "excluded")])
        resolution = resolved("R1", at(hours=6, minutes=1), cause=mri)
        for e in (mri, resolution) if mri_first else (resolution, mri):
            p.receive(e, at(hours=6, minutes=2))
        assert p.open_rules() == []
        [closed] = [c for c in p.exps.closed.values() if c.rule == "F3"]
        assert (closed.outcome, mri_first) == ("satisfied", mri_first)
        p.run_until(at(days=3))
        assert p.reminders("F3") == []


def test_a_resolution_waiting_for_its_cause_sends_nothing_and_cancels_after_the_wait() -> None:
    """The cited MRI never arrives (parked on its way, say): no reminder while the resolution waits,
    then the expectation is cancelled, dated when the resolution was read."""
    p = Patient()
    p.receive(escalation("R1"))
    lost = imaging(at(hours=6))
    p.receive(resolved("R1", at(hours=6, minutes=1), cause=lost), at(hours=6, minutes=2))
    assert p.open_rules() == []  # resolved: off the worklist while it waits
    assert p.exps.next_due() == at(hours=12, minutes=2)
    p.run_until(at(days=3))
    assert p.reminders("F3") == []
    [closed] = [c for c in p.exps.closed.values() if c.rule == "F3"]
    assert (closed.outcome, closed.closed_at) == ("cancelled", at(hours=6, minutes=2))


def test_a_new_escalation_joining_a_waiting_expectation_brings_its_reminders_back() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(resolved("R1", at(hours=1), cause=imaging(at(hours=1))), at(hours=1))
    p.receive(escalation("R8", evidence_at=at(hours=2), escalation_id="esc-R8-1"))
    assert "F3" in p.open_rules()
    p.run_until(at(days=3))
    assert [kind for kind, *_ in p.reminders("F3")] == ["warning", "overdue", "overdue"]


def test_discharge_cancels_it() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    p.receive(care_step(at(hours=2), "patient_discharged"))
    p.run_until(at(days=3))
    assert p.reminders("F3") == []


def test_late_opening_fires_at_once_with_lateness_and_skips_the_stale_warning() -> None:
    """The escalation arrives 30 h after the red flag: the deadline (24 h) has already passed."""
    p = Patient()
    p.receive(escalation("R1", evidence_at=at(0), raised_at=at(hours=30)))
    fired = [r for r in p.tick(at(hours=30)) if r.expectation_rule == "F3"]
    assert [(r.kind, r.level, r.lateness_seconds) for r in fired] == [
        ("overdue", 1, 6 * 3600.0),
        ("overdue", 2, 4 * 3600.0),
    ]
    assert [r for r in p.tick(at(hours=31)) if r.expectation_rule == "F3"] == []


def test_r1_then_r8_in_the_same_episode_share_one_set_of_reminders() -> None:
    p = Patient()
    p.receive(escalation("R1", evidence_at=at(0)))
    p.receive(imaging(at(hours=6), region="thoracic", findings=[("cord_compression", "confirmed")]))
    p.receive(escalation("R8", evidence_at=at(hours=6), escalation_id="esc-R8-1"))
    p.run_until(at(days=3))
    assert p.reminders("F3") == NOT_MET
    assert {r.data["escalation_id"] for r in p.sent if r.expectation_rule == "F3"} == {"esc-R1-1"}


def test_reminder_carries_the_contract_fields() -> None:
    p = Patient()
    p.receive(escalation("R1"))
    (warning,) = [r for r in p.tick(at(hours=12, minutes=5)) if r.expectation_rule == "F3"]
    assert warning.type == "carepath.reminder.due.v1"
    assert warning.cloudevent_id == warning.data["reminder_id"]
    exp_id = warning.data["expectation_id"]
    assert warning.data == {
        "reminder_id": f"{exp_id}.warning.1",
        "expectation_id": exp_id,
        "expectation": {"id": "F3", "name": "WHOLE_SPINE_MRI"},
        "escalation_id": "esc-R1-1",
        "expected": "whole-spine MRI reported (CT if MRI is contraindicated)",
        "kind": "warning",
        "level": 1,
        "notify": "mscc_coordinator",
        "due_at": "2025-03-03T21:00:00.000Z",
        "fired_at": "2025-03-03T21:05:00.000Z",
        "lateness_seconds": 300.0,
        "source": warning.data["source"],
        "pathway": {"id": "carepath-mscc", "version": "1.0.0"},
    }
    assert "QS56" in warning.data["source"]
    (overdue,) = [r for r in p.tick(at(hours=24)) if r.expectation_rule == "F3"]
    assert overdue.type == "carepath.reminder.overdue.v1"
    assert overdue.data["reminder_id"] == f"{exp_id}.overdue.1"
