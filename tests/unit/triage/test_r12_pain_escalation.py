"""R12 PAIN_ESCALATION: the newest pain report has NRS 7 or more, or rose by 2 points or 30 % from the
patient's baseline, or has a spinal-pain feature (R2 list) no earlier report had.

Source: NRS bands 1-4 / 5-6 / 7-10 (Serlin et al. 1995) [P]; clinically important change of 2 points or
30 % (Farrar et al. 2001) [P]. Urgent when spinal metastases are known or suspected, else routine; re-screen
for R1/R2 and review analgesia within 24 h [G].
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import cancer, iso, pain, play

pytestmark = pytest.mark.unit

# fmt: off
SCENARIOS = [
    # description,                              pain reports (NRS on days)                                                  R12 out
    ("first report 7/10 (severe)",              [pain("day 2 10:00", nrs=7)],                                                   ["R12 raised routine"]),
    ("first report 6/10 (just below)",          [pain("day 2 10:00", nrs=6)],                                                   []),
    ("3 -> 5: rise of 2 points",                [pain("day 2 10:00", nrs=3), pain("day 5 10:00", nrs=5)],                       ["R12 raised routine"]),
    ("3 -> 4: rise of 33 %",                    [pain("day 2 10:00", nrs=3), pain("day 5 10:00", nrs=4)],                       ["R12 raised routine"]),
    ("5 -> 6: rise of 1 point, 20 %",           [pain("day 2 10:00", nrs=5), pain("day 5 10:00", nrs=6)],                       []),
    ("0 -> 1: from no pain, 1 point",           [pain("day 2 10:00", nrs=0), pain("day 5 10:00", nrs=1)],                       []),
    ("6 -> 4: a pain drop",                     [pain("day 2 10:00", nrs=6), pain("day 5 10:00", nrs=4)],                       []),
    ("improving pain",                          [pain("day 2 10:00", nrs=5), pain("day 5 10:00", nrs=4, improving=True),
                                                 pain("day 9 10:00", nrs=3, improving=True)],                                  []),
    ("baseline 4 months earlier is too old",    [pain("day 1 10:00", nrs=3), pain("day 120 10:00", nrs=5)],                     []),
    ("night pain appears in a later report",    [pain("day 2 10:00", nrs=4), pain("day 5 10:00", nrs=4, character=["night_pain"])], ["R12 raised routine"]),
    ("features in the first report only",       [pain("day 2 10:00", nrs=4, character=["night_pain"])],                         []),
    ("same features again",                     [pain("day 2 10:00", nrs=4, character=["night_pain"]),
                                                 pain("day 5 10:00", nrs=4, character=["night_pain"])],                         []),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r12_scenarios(description: str, events: list, expected: list[str]) -> None:
    """Serlin 1995: 7-10 is severe pain; Farrar 2001: a change of 2 points or 30 % is clinically important.
    A fall in pain never raises R12."""
    assert play(*events).changes("R12") == expected


def test_rise_reason_and_evidence() -> None:
    """Farrar 2001 [P]: a rise of 2 points from baseline; evidence shows the baseline report."""
    run = play(pain("day 2 10:00", nrs=3, id="p1"), pain("day 5 10:00", nrs=5, id="p2"))
    data = run.last("R12").data
    assert data["reason"] == (
        "Escalating spinal pain (pain score up from 3 to 5/10): re-screen for MSCC and spinal metastases and "
        "review analgesia."
    )
    assert [(e["event_id"], e["fact"], e["value"]) for e in data["evidence"]] == [
        ("p2", "nrs", 5),
        ("p1", "nrs baseline", 3),
    ]
    assert data["evidence"][1]["threshold"] == "rise >= 2 points or >= 30 %"
    assert data["deadline"] == iso("day 6 10:00")


def test_known_spinal_metastases_make_it_urgent() -> None:
    """[G]: escalating pain with known spinal metastases is urgent."""
    run = play(cancer("day 1 09:00", "prostate", spinal_metastases="known"), pain("day 2 10:00", nrs=8))
    assert run.changes("R12") == ["R12 raised urgent"]
    assert "with known or suspected spinal metastases" in run.last("R12").data["reason"]


def test_metastases_becoming_known_while_open_update_to_urgent() -> None:
    """Severity rises when metastases become known or suspected while R12 is open: updated, not a second alert."""
    run = play(pain("day 2 10:00", nrs=8), cancer("day 3 09:00", "lung", spinal_metastases="suspected"))
    assert run.changes("R12") == ["R12 raised routine", "R12 updated urgent"]


def test_open_r2_counts_as_suspected_metastases() -> None:
    """An open R2 (suspected spinal metastases, CG75) makes severe pain urgent."""
    run = play(cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=8, site=["thoracic"]))
    assert run.changes("R2", "R12") == ["R2 raised urgent", "R12 raised urgent"]


def test_pain_settling_below_threshold_resolves_and_is_the_new_baseline() -> None:
    """Improving pain below 7 with no rise resolves R12; a later rise of 2 from that report raises again."""
    run = play(
        pain("day 2 10:00", nrs=8),
        pain("day 4 10:00", nrs=4, improving=True),
        pain("day 8 10:00", nrs=5),
        pain("day 12 10:00", nrs=6),
    )
    assert run.changes("R12") == ["R12 raised routine", "R12 resolved routine", "R12 raised routine"]
    assert run.last("R12").data["reason"].startswith("Escalating spinal pain (pain score up from 4 to 6/10)")
