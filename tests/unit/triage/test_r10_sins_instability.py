"""R10 SINS_INSTABILITY: Spinal Instability Neoplastic Score 7-12 (potentially unstable) or 13-18
(unstable); an unstable spine with new or worsening neurological signs or a new collapse is an emergency.

Source: SINS bands (Fisher et al. 2010) [S]; BMJ 2023;383:p1973 [P] (spinal surgical opinion within
24 h); emergency escalation [G].
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import Event, care_step, imaging, iso, pain, play

pytestmark = pytest.mark.unit


def scored(sins: int, when: str = "day 2 10:00", findings: dict[str, str] | None = None) -> object:
    return imaging(when, "ct", "thoracic", "final", findings, sins=sins)


# fmt: off
SCENARIOS = [
    # description,                            events in                                                                   R10 out
    ("SINS 6: stable",                        [scored(6)],                                                                  []),
    ("SINS 7: potentially unstable",          [scored(7)],                                                                  ["R10 raised urgent"]),
    ("SINS 12: potentially unstable",         [scored(12)],                                                                 ["R10 raised urgent"]),
    ("SINS 13: unstable",                     [scored(13)],                                                                 ["R10 raised urgent"]),
    ("SINS 13 with new collapse",             [scored(13, findings={"vertebral_collapse": "confirmed"})],                   ["R10 raised emergency"]),
    ("SINS 12 with new collapse",             [scored(12, findings={"vertebral_collapse": "confirmed"})],                   ["R10 raised urgent"]),
    ("SINS 15 with new leg weakness",         [pain("day 1 10:00", nrs=5, neurological=["limb_weakness"]), scored(15)],     ["R10 raised emergency"]),
    ("SINS 15, weakness 3 weeks earlier",     [pain("day 1 10:00", nrs=5, neurological=["limb_weakness"]),
                                               scored(15, when="day 22 10:00")],                                            ["R10 raised urgent"]),
    ("SINS 8, then 14: same severity",        [scored(8), scored(14, when="day 5 10:00")],                                  ["R10 raised urgent"]),
    ("SINS 14, then weakness: emergency",     [scored(14), pain("day 3 10:00", nrs=5, neurological=["walking_difficulty"])], ["R10 raised urgent", "R10 updated emergency"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r10_scenarios(description: str, events: list, expected: list[str]) -> None:
    """SINS 0-6 stable, 7-12 potentially unstable, 13-18 unstable: both need a spinal surgical opinion."""
    assert play(*events).changes("R10") == expected


def test_reason_and_deadline() -> None:
    """Spinal surgical opinion within 24 h (BMJ 2023;383:p1973 [P] for R10; local default [G] for R11)."""
    data = play(scored(9)).last("R10").data
    assert (
        data["reason"]
        == "SINS 9 (potentially unstable): the spine may be unstable and needs a spinal surgical opinion."
    )
    assert data["deadline"] == iso("day 3 10:00")
    assert data["evidence"][0]["threshold"] == ">= 7 and <= 12"


def test_spinal_surgical_opinion_resolves() -> None:
    """BMJ 2023;383:p1973 [P]: the spinal surgical opinion is what R10 asks for."""
    run = play(scored(13), care_step("day 2 20:00", "spinal_surgical_opinion"))
    assert run.changes("R10") == ["R10 raised urgent", "R10 resolved urgent"]


def test_a_sins_scored_on_its_own_is_read_like_one_in_a_report() -> None:
    """A spinal team records the SINS as an observation of its own: no modality, region or findings."""
    alone = Event("carepath.imaging.resulted.v1", "day 2 10:00", {"report_status": "final", "sins_score": 14})
    weak = pain("day 1 10:00", nrs=5, neurological=["limb_weakness"])
    assert play(alone).changes("R10") == ["R10 raised urgent"]
    assert play(weak, alone).changes("R10") == ["R10 raised emergency"]
    assert play(alone).changes("R8", "R9", "R11") == []
