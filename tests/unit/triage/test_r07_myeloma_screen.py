"""R7 MYELOMA_SCREEN: age 60 or over with persistent bone or back pain, or an unexplained fracture;
urgent when a screening result is abnormal.

Source: NICE NG12 / NG35 [S]. Routine: FBC, calcium, ESR, serum protein electrophoresis and urine
Bence-Jones protein or serum free light chains within 48 h; refer within 2 weeks if abnormal.
"Persistent" is read as 4 weeks or more [G], as in R4.
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import background, cancer, care_step, imaging, iso, lab, pain, play

pytestmark = pytest.mark.unit

AGED_65 = background("day 1 08:00", age_years=65)
FIVE_WEEKS = dict(nrs=4, duration_days=35)

# fmt: off
SCENARIOS = [
    # description,                                events in                                                                         R7 out
    ("65, back pain for 5 weeks",                 [AGED_65, pain("day 2 10:00", **FIVE_WEEKS)],                                        ["R7 raised routine"]),
    ("exactly 60",                                [background("day 1 08:00", age_years=60), pain("day 2 10:00", **FIVE_WEEKS)],       ["R7 raised routine"]),
    ("59 (just under 60)",                        [background("day 1 08:00", age_years=59), pain("day 2 10:00", **FIVE_WEEKS)],       []),
    ("65, pain for 3 weeks only",                 [AGED_65, pain("day 2 10:00", nrs=4, duration_days=21)],                             []),
    ("65, pain reported over 4 weeks",            [AGED_65, pain("day 2 10:00", nrs=4), pain("day 30 10:00", nrs=3)],                 ["R7 raised routine"]),
    ("65, over 4 weeks but a new episode on day 20", [AGED_65, pain("day 2 10:00", nrs=4), pain("day 20 10:00", nrs=5, new_episode=True),
                                                   pain("day 30 10:00", nrs=3)],                                                       []),
    ("65, new episode on day 2, 4 weeks since",   [AGED_65, pain("day 2 10:00", nrs=4, new_episode=True), pain("day 30 10:00", nrs=3)], ["R7 raised routine"]),
    ("65, fracture on imaging",                   [AGED_65, imaging("day 2 10:00", "xray", "lumbar", "final",
                                                                    {"vertebral_collapse": "confirmed"})],                               ["R7 raised routine"]),
    ("age unknown",                               [pain("day 2 10:00", **FIVE_WEEKS)],                                                 []),
    ("known myeloma",                             [AGED_65, cancer("day 1 09:00", "myeloma"), pain("day 2 10:00", **FIVE_WEEKS)],    []),
    ("abnormal ESR already known",                [AGED_65, lab("day 1 12:00", "esr", 80, "mm/h", high=20),
                                                   pain("day 2 10:00", **FIVE_WEEKS)],                                                 ["R7 raised urgent"]),
    ("paraprotein detected later",                [AGED_65, pain("day 2 10:00", **FIVE_WEEKS),
                                                   lab("day 4 10:00", "paraprotein", 5, "g/L")],                                       ["R7 raised routine", "R7 updated urgent"]),
    ("no paraprotein (0 g/L) and normal ESR",     [AGED_65, pain("day 2 10:00", **FIVE_WEEKS),
                                                   lab("day 4 10:00", "paraprotein", 0, "g/L"),
                                                   lab("day 4 10:00", "esr", 12, "mm/h", high=20)],                                     ["R7 raised routine"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r7_scenarios(description: str, events: list, expected: list[str]) -> None:
    """NICE NG12: people aged 60 and over with persistent bone pain, particularly back pain, or an
    unexplained fracture: test for myeloma; abnormal results make it urgent."""
    assert play(*events).changes("R7") == expected


def test_screen_actions_and_abnormal_results_add_the_referral() -> None:
    """NICE NG12 [S]: SPEP within 48 h; refer within 2 weeks when abnormal (any detectable paraprotein)."""
    run = play(AGED_65, pain("day 2 10:00", **FIVE_WEEKS), lab("day 4 10:00", "paraprotein", 5, "g/L"))
    screen, abnormal = (e.data for e in run.escalations if e.rule_id == "R7")
    assert screen["reason"] == "Age 60 or over with persistent back pain: screen for myeloma."
    assert [(a["within"], a["deadline"]) for a in screen["actions"]] == [("PT48H", iso("day 4 10:00"))]
    assert (
        abnormal["reason"]
        == "Age 60 or over with persistent back pain and abnormal paraprotein: possible myeloma."
    )
    assert [a["within"] for a in abnormal["actions"]] == ["PT48H", "P14D"]
    assert abnormal["actions"][1]["deadline"] == iso("day 18 10:00")
    paraprotein = next(e for e in abnormal["evidence"] if e["fact"] == "paraprotein")
    assert (paraprotein["value"], paraprotein["unit"], paraprotein["threshold"]) == (
        5,
        "g/L",
        "> 0 g/L (detectable)",
    )


def test_referral_closes_r7() -> None:
    """A recorded referral closes the myeloma screen escalation."""
    run = play(AGED_65, pain("day 2 10:00", **FIVE_WEEKS), care_step("day 6 10:00", "referral_made"))
    assert run.changes("R7") == ["R7 raised routine", "R7 resolved routine"]
