"""R4 CANCER_RISK_NO_HISTORY: no recorded cancer, back pain and weak risk factors for an underlying cancer
(age over 50 with new pain, unexplained weight loss, no improvement after about 4-6 weeks, night pain,
fever or night sweats, raised ALP/ESR/CRP). One factor is routine; two or more are urgent.

Source: ACP/APS 2007 [P]; ACR Appropriateness Criteria 2021 variant 7 [P]; NICE NG59 1.1.1 [P].
"Persistent" is read as 4 weeks, the lower bound of 4-6 weeks [G].
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import background, cancer, care_step, imaging, iso, lab, pain, play

pytestmark = pytest.mark.unit

BORN_1973 = background("day 1 08:00", birth_date="1973-05-02")  # 50 on day 1 (2024-05-01), 51 from day 2
AGED_40 = background("day 1 08:00", age_years=40)

# fmt: off
SCENARIOS = [
    # description,                                      events in                                                                  R4 out
    ("51 today, new back pain",                         [BORN_1973, pain("day 2 10:00", nrs=4)],                                     ["R4 raised routine"]),
    ("50 today (not over 50), new back pain",           [BORN_1973, pain("day 1 10:00", nrs=4)],                                     []),
    ("recorded age 40, plain back pain",                [AGED_40, pain("day 2 10:00", nrs=4)],                                       []),
    ("no age known, plain back pain",                   [pain("day 2 10:00", nrs=4)],                                                []),
    ("unexplained weight loss",                         [AGED_40, pain("day 2 10:00", nrs=4, systemic=["weight_loss"])],             ["R4 raised routine"]),
    ("fever and night sweats are one factor",           [AGED_40, pain("day 2 10:00", nrs=4, systemic=["fever", "night_sweats"])],   ["R4 raised routine"]),
    ("weight loss and night pain: two factors",         [AGED_40, pain("day 2 10:00", nrs=4, systemic=["weight_loss"],
                                                                        character=["night_pain"])],                                 ["R4 raised urgent"]),
    ("pain for 28 days, not improving",                 [AGED_40, pain("day 1 10:00", nrs=4), pain("day 29 10:00", nrs=4)],          ["R4 raised routine"]),
    ("pain for 27 days (just under 4 weeks)",           [AGED_40, pain("day 1 10:00", nrs=4), pain("day 28 10:00", nrs=4)],          []),
    ("pain for 28 days but improving",                  [AGED_40, pain("day 1 10:00", nrs=4), pain("day 29 10:00", nrs=3, improving=True)], []),
    ("pain-free report in between restarts the clock",  [AGED_40, pain("day 1 10:00", nrs=4), pain("day 15 10:00", nrs=0),
                                                         pain("day 29 10:00", nrs=4)],                                              []),
    ("reported duration of 5 weeks",                    [AGED_40, pain("day 2 10:00", nrs=4, duration_days=35)],                     ["R4 raised routine"]),
    ("55 with 5 weeks of pain: persistent, not new",    [BORN_1973, pain("day 40 10:00", nrs=4, duration_days=35)],                  ["R4 raised routine"]),
    ("raised CRP with back pain (R13 factor)",          [AGED_40, pain("day 2 10:00", nrs=4),
                                                         lab("day 3 09:00", "crp", 25, "mg/L", high=5)],                              ["R4 raised routine"]),
    ("known cancer: R1/R2/R12 apply instead",           [cancer("day 1 07:00", "breast"), BORN_1973,
                                                         pain("day 2 10:00", nrs=4, systemic=["weight_loss"])],                      []),
    ("weight loss without back pain (NRS 0)",           [AGED_40, pain("day 2 10:00", nrs=0, systemic=["weight_loss"])],             []),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r4_scenarios(description: str, events: list, expected: list[str]) -> None:
    """ACP/APS 2007: weak risk factors for cancer in low back pain; one factor - a trial of treatment and
    review at about a month; several - investigate (X-ray and ESR, or MRI)."""
    assert play(*events).changes("R4") == expected


def test_age_is_taken_at_the_time_of_the_pain_report() -> None:
    """Age from the date of birth at the event time, not at the time the birth date was recorded."""
    run = play(BORN_1973, pain("day 2 10:00", nrs=4))
    age = next(e for e in run.last("R4").data["evidence"] if e["fact"] == "age")
    assert (age["value"], age["unit"], age["threshold"]) == (51, "years", "> 50")


def test_one_factor_asks_for_review_at_about_a_month() -> None:
    """ACP/APS 2007 [P]: one weak factor - a trial of treatment and review after about a month."""
    run = play(AGED_40, pain("day 2 10:00", nrs=4, systemic=["weight_loss"]))
    data = run.last("R4").data
    assert (
        data["reason"]
        == "Back pain with no known cancer and one weak risk factor for cancer (unexplained weight loss)."
    )
    assert [(a["within"], a["deadline"]) for a in data["actions"]] == [("P4W", iso("day 30 10:00"))]


def test_a_second_factor_updates_the_same_escalation_to_urgent() -> None:
    """Severity rises: the open escalation is updated (revision 2, same id), not duplicated."""
    run = play(
        AGED_40,
        pain("day 2 10:00", nrs=4, systemic=["weight_loss"]),
        pain("day 5 10:00", nrs=4, character=["night_pain"]),
    )
    assert run.changes("R4") == ["R4 raised routine", "R4 updated urgent"]
    raised, updated = (e for e in run.escalations if e.rule_id == "R4")
    assert updated.type == "carepath.escalation.updated.v1"
    assert updated.data["escalation_id"] == raised.data["escalation_id"]
    assert updated.data["revision"] == 2
    assert updated.cloudevent_id.endswith(".r2")
    assert updated.data["reason"] == (
        "Back pain with no known cancer and two weak risk factors for cancer "
        "(unexplained weight loss and night pain): investigate."
    )
    # the urgent work-up counts from the report that brought the second factor
    assert updated.data["actions"] == [
        {
            "action": "Investigate with plain X-ray and ESR, or MRI",
            "deadline": iso("day 12 10:00"),
            "within": "P7D",
        }
    ]
    assert updated.data["raised_at"] == raised.data["raised_at"]


def test_more_of_the_same_does_not_publish_again() -> None:
    """No floods: the same factor again at the same severity publishes nothing."""
    run = play(
        AGED_40,
        pain("day 2 10:00", nrs=4, systemic=["weight_loss"]),
        pain("day 5 10:00", nrs=5, systemic=["weight_loss"]),
    )
    assert run.changes("R4") == ["R4 raised routine"]


def test_improving_pain_closes_r4_and_the_same_complaint_does_not_raise_again_at_once() -> None:
    """ACP/APS 2007: with one weak factor, a conservative trial; pain improving closes R4. Afterwards only
    later facts count and persistence is measured from then: no alert at every visit."""
    run = play(
        BORN_1973,
        pain("day 2 10:00", nrs=4),
        pain("day 9 10:00", nrs=2, improving=True),
        pain("day 17 10:00", nrs=4),
        pain("day 38 10:00", nrs=4),
    )
    assert run.changes("R4") == ["R4 raised routine", "R4 resolved routine", "R4 raised routine"]
    assert run.last("R4").data["reason"].endswith("(no improvement after 4 weeks).")
    # persistence measured from the improvement on day 9 to day 38 = 29 days
    assert run.last("R4").data["evidence"][0]["value"] == 29.0


def test_a_clinician_review_does_not_close_r4() -> None:
    """The review after about a month is what R4 asks for; an early review must not cancel it (F13)."""
    run = play(
        BORN_1973,
        pain("day 2 10:00", nrs=4),
        care_step("day 3 10:00", "clinician_review", conclusion="non_specific_back_pain"),
    )
    assert run.changes("R4") == ["R4 raised routine"]


def test_several_factors_stay_open_when_pain_improves() -> None:
    """Two or more factors ask for investigation whatever the pain does."""
    run = play(
        AGED_40,
        pain("day 2 10:00", nrs=4, systemic=["weight_loss"], character=["night_pain"]),
        pain("day 6 10:00", nrs=2, improving=True),
    )
    assert run.changes("R4") == ["R4 raised urgent"]


def test_mri_of_the_spine_closes_r4() -> None:
    """ACP/APS 2007: investigated by MRI; its findings are assessed under R8-R11."""
    run = play(
        AGED_40, pain("day 2 10:00", nrs=4, systemic=["weight_loss"]), imaging("day 8 10:00", "mri", "lumbar")
    )
    assert run.changes("R4") == ["R4 raised routine", "R4 resolved routine"]
