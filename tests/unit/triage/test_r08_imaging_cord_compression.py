"""R8 IMAGING_CORD_COMPRESSION: an MRI or CT report shows spinal cord or cauda equina compression.

Source: NICE QS56 statements 3 and 6 [P]; NICE CG75 [P]. Emergency: MSCC coordinator now (1 h [G]),
dexamethasone (4 h [S]), definitive treatment plan within 24 h; radiotherapy within 24 h of the decision
is followed up from the decision (F7).
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import care_step, imaging, iso, play

pytestmark = pytest.mark.unit

# fmt: off
SCENARIOS = [
    # description,                              imaging report (day 2 10:00)                                               R8 out
    ("MRI, confirmed cord compression",         imaging("day 2 10:00", "mri", "thoracic", "final", {"cord_compression": "confirmed"}),        ["R8 raised emergency"]),
    ("CT, possible cauda equina compression",   imaging("day 2 10:00", "ct", "lumbar", "final", {"cauda_equina_compression": "possible"}),    ["R8 raised emergency"]),
    ("preliminary MRI report (wet read)",       imaging("day 2 10:00", "mri", "whole_spine", "preliminary", {"cord_compression": "confirmed"}), ["R8 raised emergency"]),
    ("MRI excluding compression",               imaging("day 2 10:00", "mri", "whole_spine", "final", {"cord_compression": "excluded"}),      []),
    ("X-ray cannot show compression",           imaging("day 2 10:00", "xray", "thoracic", "final", {"cord_compression": "possible"}),        []),
    ("cancelled report",                        imaging("day 2 10:00", "mri", "whole_spine", "cancelled", {"cord_compression": "confirmed"}), []),
]
# fmt: on


@pytest.mark.parametrize(("description", "report", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r8_scenarios(description: str, report: object, expected: list[str]) -> None:
    """QS56 st. 3: compression on MRI or CT (confirmed or possible) needs a definitive plan now."""
    assert play(report).changes("R8") == expected  # type: ignore[arg-type]


def test_reason_actions_and_deadlines() -> None:
    """QS56 st. 3 and 6 [P]: MSCC coordinator now, dexamethasone, definitive plan within 24 h."""
    run = play(imaging("day 2 10:00", "mri", "thoracic", "final", {"cord_compression": "confirmed"}))
    data = run.last("R8").data
    assert data["reason"] == (
        "MRI of the thoracic spine shows confirmed spinal cord compression: a definitive treatment plan is needed now."
    )
    assert [(a["within"], a["deadline"]) for a in data["actions"]] == [
        ("PT1H", iso("day 2 11:00")),
        ("PT4H", iso("day 2 14:00")),
        ("PT24H", iso("day 3 10:00")),
    ]
    assert data["evidence"][0]["value"] == ["cord_compression (confirmed)"]


def test_decision_to_treat_resolves() -> None:
    """QS56 st. 6 [P]: the definitive decision is what R8 asks for; radiotherapy is then followed up (F7)."""
    run = play(
        imaging("day 2 10:00", "mri", "thoracic", "final", {"cord_compression": "confirmed"}),
        care_step("day 2 18:00", "decision_to_treat", decision="radiotherapy"),
    )
    assert run.changes("R8") == ["R8 raised emergency", "R8 resolved emergency"]
    assert run.last("R8").data["resolution"] == "A definitive treatment decision has been recorded."


def test_an_amended_report_excluding_compression_resolves() -> None:
    """A later amended report excluding compression closes R8."""
    run = play(
        imaging("day 2 10:00", "mri", "thoracic", "preliminary", {"cord_compression": "possible"}),
        imaging("day 2 16:00", "mri", "thoracic", "amended", {"cord_compression": "excluded"}),
    )
    assert run.changes("R8") == ["R8 raised emergency", "R8 resolved emergency"]


def test_a_decision_recorded_before_the_late_mri_feed_means_no_new_alert() -> None:
    """Order of arrival: the MRI of 10:00 reaches triage after the 18:00 decision it led to."""
    run = play(
        care_step("day 2 18:00", "decision_to_treat", decision="surgery"),
        imaging(
            "day 2 10:00",
            "mri",
            "thoracic",
            "final",
            {"cord_compression": "confirmed"},
            arrives="day 2 19:00",
        ),
    )
    assert run.changes("R8") == []
