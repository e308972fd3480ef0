"""F6: when MRI excludes MSCC in a patient on dexamethasone, expect the dexamethasone stopped.

Source: NICE NG234 (2023) 1.8.2 [S], stop corticosteroids if MRI excludes MSCC. "On the result" read as
within 24 hours of the excluding report, and the chain roles, are local defaults [G].
"""

from __future__ import annotations

import pytest

from tests.unit.followup.followup_timeline import Patient, at, imaging, treatment

pytestmark = pytest.mark.unit

NOT_MET = [("overdue", 1, "acute_oncology", at(hours=34)), ("overdue", 2, "consultant", at(hours=58))]


def on_dexamethasone() -> Patient:
    p = Patient()
    p.receive(treatment(at(0), "corticosteroid", "administered", agent="dexamethasone"))
    return p


def test_stopped_in_time_sends_no_reminder() -> None:
    p = on_dexamethasone()
    p.receive(imaging(at(hours=10)))
    assert "F6" in p.open_rules()
    p.receive(treatment(at(hours=20), "corticosteroid", "stopped", agent="dexamethasone"))
    p.run_until(at(days=5))
    assert p.reminders("F6") == []


def test_not_stopped_is_reminded_then_escalated() -> None:
    p = on_dexamethasone()
    p.receive(imaging(at(hours=10)))
    p.run_until(at(days=5))
    assert p.reminders("F6") == NOT_MET


def test_stopped_after_level_1_stops_level_2() -> None:
    p = on_dexamethasone()
    p.receive(imaging(at(hours=10)))
    p.run_until(at(hours=35))
    p.receive(treatment(at(hours=36), "corticosteroid", "stopped"))
    p.run_until(at(days=5))
    assert p.reminders("F6") == NOT_MET[:1]


@pytest.mark.parametrize(
    ("report_status", "findings", "excludes"),
    [
        ("final", [], True),
        ("preliminary", [("cord_compression", "excluded")], True),
        ("final", [("cord_compression", "excluded"), ("cauda_equina_compression", "excluded")], True),
        ("preliminary", [], False),
        ("final", [("cord_compression", "possible")], False),
        ("final", [("cord_compression", "excluded"), ("cauda_equina_compression", "confirmed")], False),
        ("cancelled", [], False),
    ],
)
def test_what_counts_as_mri_excluding_mscc(
    report_status: str, findings: list[tuple[str, str]], excludes: bool
) -> None:
    p = on_dexamethasone()
    p.receive(imaging(at(hours=10), report_status=report_status, findings=findings))
    assert ("F6" in p.open_rules()) is excludes


def test_a_single_region_mri_does_not_exclude_mscc() -> None:
    p = on_dexamethasone()
    p.receive(imaging(at(hours=10), region="lumbar"))
    assert "F6" not in p.open_rules()


def test_not_on_dexamethasone_nothing_is_expected() -> None:
    p = Patient()
    p.receive(treatment(at(0), "corticosteroid", "started", agent="prednisolone"))
    p.receive(imaging(at(hours=10)))
    assert "F6" not in p.open_rules()


def test_dexamethasone_already_stopped_nothing_is_expected() -> None:
    p = on_dexamethasone()
    p.receive(treatment(at(hours=5), "corticosteroid", "stopped", agent="dexamethasone"))
    p.receive(imaging(at(hours=10)))
    assert "F6" not in p.open_rules()


def test_a_later_scan_showing_compression_cancels_it() -> None:
    p = on_dexamethasone()
    p.receive(imaging(at(hours=10)))
    p.receive(imaging(at(hours=20), region="thoracic", findings=[("cord_compression", "possible")]))
    p.run_until(at(days=5))
    assert p.reminders("F6") == []
