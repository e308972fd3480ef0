"""R5 SPINAL_INFECTION: back pain and fever in a patient with intravenous drug use, immunosuppression or a
recent infection.

Source: ACP/APS 2007 [P]. Urgent: MRI and spinal review the same day (read as 12 hours [G]).
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import background, care_step, iso, pain, play

pytestmark = pytest.mark.unit

FEVER = dict(nrs=6, systemic=["fever"])

# fmt: off
SCENARIOS = [
    # description,                                events in                                                                          R5 out
    ("IV drug use, back pain and fever",          [background("day 1 09:00", risk_factors=["iv_drug_use"]), pain("day 2 10:00", **FEVER)],      ["R5 raised urgent"]),
    ("immunosuppressed, back pain and fever",     [background("day 1 09:00", risk_factors=["immunosuppression"]), pain("day 2 10:00", **FEVER)], ["R5 raised urgent"]),
    ("recent infection, back pain and fever",     [background("day 1 09:00", risk_factors=["recent_infection"]), pain("day 2 10:00", **FEVER)],  ["R5 raised urgent"]),
    ("risk factor recorded after the pain",       [pain("day 2 10:00", **FEVER),
                                                   background("day 1 09:00", risk_factors=["iv_drug_use"], arrives="day 2 15:00")],             ["R5 raised urgent"]),
    ("fever but no risk factor",                  [pain("day 2 10:00", **FEVER)],                                                                 []),
    ("risk factor but no fever",                  [background("day 1 09:00", risk_factors=["iv_drug_use"]), pain("day 2 10:00", nrs=6)],        []),
    ("risk factor refuted",                       [background("day 1 09:00", risk_factors=["iv_drug_use"], verification="refuted"),
                                                   pain("day 2 10:00", **FEVER)],                                                                 []),
    ("fever without back pain (NRS 0)",           [background("day 1 09:00", risk_factors=["iv_drug_use"]),
                                                   pain("day 2 10:00", nrs=0, systemic=["fever"])],                                               []),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r5_scenarios(description: str, events: list, expected: list[str]) -> None:
    """ACP/APS 2007: fever with IV drug use, immunosuppression or recent infection suggests spinal infection."""
    assert play(*events).changes("R5") == expected


def test_reason_and_same_day_deadline() -> None:
    """ACP/APS 2007 [P]: MRI and review the same day (12 h [G]); evidence names the risk factor and the fever."""
    run = play(background("day 1 09:00", risk_factors=["iv_drug_use"]), pain("day 2 10:00", **FEVER))
    data = run.last("R5").data
    assert data["reason"] == "Back pain with fever and intravenous drug use: possible spinal infection."
    assert data["deadline"] == iso("day 2 22:00")
    assert [e["fact"] for e in data["evidence"]] == ["risk_factors", "systemic"]


def test_clinician_review_resolves() -> None:
    """A clinician review judging the pain non-specific closes R5."""
    run = play(
        background("day 1 09:00", risk_factors=["immunosuppression"]),
        pain("day 2 10:00", **FEVER),
        care_step("day 2 15:00", "clinician_review", conclusion="non_specific_back_pain"),
    )
    assert run.changes("R5") == ["R5 raised urgent", "R5 resolved urgent"]
