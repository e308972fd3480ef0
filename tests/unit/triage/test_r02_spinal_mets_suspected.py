"""R2 SPINAL_METS_SUSPECTED: a past or current cancer and spinal pain with features suggesting spinal
metastases, and no new or worsening neurological feature (that is R1).

Source: NICE CG75 [P]; NICE QS56 statement 2 [P]; NICE NG234 box 2 [S]. Urgent: discuss with the MSCC
coordinator within 24 h; whole-spine MRI and a treatment plan within 7 days.
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import background, cancer, care_step, imaging, iso, pain, play

pytestmark = pytest.mark.unit

# fmt: off
SCENARIOS = [
    # description,                                  events in                                                                       R1/R2 out
    ("cancer, thoracic pain",                       [cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=5, site=["thoracic"])],   ["R2 raised urgent"]),
    ("cancer, cervical pain",                       [cancer("day 1 09:00", "lung"), pain("day 2 10:00", nrs=3, site=["cervical"])],     ["R2 raised urgent"]),
    ("cancer, lumbar pain at night",                [cancer("day 1 09:00", "prostate", "history"),
                                                     pain("day 2 10:00", nrs=4, character=["night_pain"])],                             ["R2 raised urgent"]),
    ("cancer, pain worse on coughing",              [cancer("day 1 09:00", "kidney", "remission"),
                                                     pain("day 2 10:00", nrs=4, character=["worse_on_straining"])],                     ["R2 raised urgent"]),
    ("cancer, plain lumbar ache",                   [cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=4, site=["lumbar"])],     []),
    ("no cancer, thoracic pain",                    [pain("day 2 10:00", nrs=5, site=["thoracic"])],                                    []),
    ("cancer, thoracic site but no pain (NRS 0)",   [cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=0, site=["thoracic"])],   []),
    ("cancer, thoracic pain and new weakness: R1",  [cancer("day 1 09:00", "breast"),
                                                     pain("day 2 10:00", nrs=5, site=["thoracic"], neurological=["limb_weakness"])],    ["R1 raised emergency"]),
    ("cancer, thoracic pain, stable old deficit",   [cancer("day 1 09:00", "breast"),
                                                     pain("day 2 10:00", nrs=5, site=["thoracic"], neurological=["limb_weakness"],
                                                          neurological_status="stable")],                                               ["R2 raised urgent"]),
    ("late cancer diagnosis",                       [pain("day 2 10:00", nrs=5, site=["thoracic"]),
                                                     cancer("day 1 09:00", "breast", arrives="day 3 09:00")],                           ["R2 raised urgent"]),
    ("R1 already open: no second alert",            [cancer("day 1 09:00", "breast"),
                                                     pain("day 2 10:00", nrs=5, neurological=["sensory_loss"]),
                                                     pain("day 2 14:00", nrs=6, site=["thoracic"])],                                    ["R1 raised emergency"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r2_scenarios(description: str, events: list, expected: list[str]) -> None:
    """CG75 / NG234 box 2: in a person with cancer, thoracic or cervical pain, progressive, severe,
    mechanical or nocturnal pain, pain on straining, local tenderness or claudication suggest spinal
    metastases; with a neurological feature it is R1 instead."""
    assert play(*events).changes("R1", "R2") == expected


def test_r2_reason_actions_and_deadlines() -> None:
    """QS56 st. 2: MSCC coordinator contact within 24 h; MRI and plan within 7 days; safety-net advice."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=5, site=["thoracic"], character=["night_pain"]),
    )
    data = run.last("R2").data
    assert data["reason"] == (
        "Known breast cancer with thoracic spine pain and night pain that disturbs sleep: suspected spinal metastases."
    )
    assert [(a["within"], a["deadline"]) for a in data["actions"]] == [
        ("PT24H", iso("day 3 10:00")),
        ("PT24H", iso("day 3 10:00")),
        ("P7D", iso("day 9 10:00")),
    ]
    assert data["deadline"] == iso("day 3 10:00")
    assert [e["fact"] for e in data["evidence"]] == ["cancer", "site", "character"]


def test_whole_spine_mri_without_metastasis_or_compression_resolves() -> None:
    """QS56 st. 2: a normal whole-spine MRI answers the question; nothing is left to plan."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=5, site=["thoracic"]),
        imaging("day 5 10:00", "mri", "whole_spine", "final", {"cord_compression": "excluded"}),
    )
    assert run.changes("R2") == ["R2 raised urgent", "R2 resolved urgent"]
    assert run.last("R2").data["resolution"] == (
        "A final whole-spine MRI or CT report shows no spinal metastasis and no compression."
    )


def test_mri_showing_a_metastasis_raises_r9_and_r2_waits_for_the_treatment_plan() -> None:
    """QS56 st. 2: MRI *and* a treatment plan within a week. A metastasis on MRI raises R9; R2 stays open
    (its follow-ups are not cancelled) until the decision to treat is recorded."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=5, site=["thoracic"]),
        imaging("day 5 10:00", "mri", "whole_spine", "final", {"new_vertebral_metastasis": "confirmed"}),
        care_step("day 6 10:00", "decision_to_treat", decision="radiotherapy"),
    )
    assert run.changes("R2", "R9") == ["R2 raised urgent", "R9 raised urgent", "R2 resolved urgent"]
    assert run.last("R2").data["resolution"] == "A treatment plan has been recorded."


def test_a_single_region_or_preliminary_mri_does_not_close_r2() -> None:
    """CG75 / QS56 st. 2 ask for a whole-spine MRI."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=5, site=["thoracic"]),
        imaging("day 5 10:00", "mri", "thoracic", "final"),
        imaging("day 5 12:00", "mri", "whole_spine", "preliminary"),
    )
    assert run.changes("R2") == ["R2 raised urgent"]


def test_clinician_review_judging_pain_non_specific_resolves() -> None:
    """CG75: a clinician's assessment answers the question; an older report arriving later does not reopen it."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=5, site=["thoracic"]),
        care_step("day 3 10:00", "clinician_review", conclusion="non_specific_back_pain"),
        pain("day 3 09:00", nrs=5, site=["thoracic"], arrives="day 3 11:00"),
    )
    assert run.changes("R2") == ["R2 raised urgent", "R2 resolved urgent"]


def test_new_features_after_the_review_raise_again() -> None:
    """NG234 box 2: new suggestive features after a review are a new episode."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=5, site=["thoracic"]),
        care_step("day 3 10:00", "clinician_review", conclusion="non_specific_back_pain"),
        pain("day 20 10:00", nrs=7, site=["thoracic"], character=["progressive"]),
    )
    assert run.changes("R2") == ["R2 raised urgent", "R2 resolved urgent", "R2 raised urgent"]


def test_benign_mechanical_back_pain_in_a_young_patient_raises_nothing_at_all() -> None:
    """No cancer, no red flags: simple mechanical low back pain is not an alert under any rule."""
    run = play(
        background("day 1 09:00", birth_date="1994-03-02"),
        pain("day 2 10:00", nrs=4, site=["lumbar"], character=["mechanical"]),
        pain("day 9 10:00", nrs=3, site=["lumbar"], character=["mechanical"], improving=True),
    )
    assert run.changes() == []
