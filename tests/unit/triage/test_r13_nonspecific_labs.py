"""R13 NONSPECIFIC_LABS: ALP, ESR or CRP above the laboratory's upper reference limit, with back pain.

Source: general clinical practice [G]; no numeric threshold of our own - the reporting laboratory's
reference range decides. Routine; counts as a weak risk factor for R4.
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import cancer, lab, pain, play

pytestmark = pytest.mark.unit

BACK_PAIN = pain("day 2 10:00", nrs=4)

# fmt: off
SCENARIOS = [
    # description,                              events in                                                                R13 out
    ("ALP above the lab's limit",               [BACK_PAIN, lab("day 3 10:00", "alkaline_phosphatase", 250, "U/L", high=130)], ["R13 raised routine"]),
    ("ESR above the lab's limit",               [BACK_PAIN, lab("day 3 10:00", "esr", 45, "mm/h", high=20)],                  ["R13 raised routine"]),
    ("CRP flagged high, no range given",        [BACK_PAIN, lab("day 3 10:00", "crp", 30, "mg/L", flag="H")],                ["R13 raised routine"]),
    ("CRP at the limit (not above)",            [BACK_PAIN, lab("day 3 10:00", "crp", 5, "mg/L", high=5)],                   []),
    ("CRP without range or flag",               [BACK_PAIN, lab("day 3 10:00", "crp", 30, "mg/L")],                          []),
    ("raised ESR without back pain",            [lab("day 3 10:00", "esr", 45, "mm/h", high=20)],                            []),
    ("back pain 7 weeks from the result",       [BACK_PAIN, lab("day 52 10:00", "esr", 45, "mm/h", high=20)],                []),
    ("raised in a patient with cancer too",     [cancer("day 1 09:00", "breast"), BACK_PAIN,
                                                 lab("day 3 10:00", "alkaline_phosphatase", 250, "U/L", high=130)],             ["R13 raised routine"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r13_scenarios(description: str, events: list, expected: list[str]) -> None:
    """[G]: a raised ALP, ESR or CRP with back pain asks for bone imaging and an infection or myeloma work-up."""
    assert play(*events).changes("R13") == expected


def test_reason_and_evidence_use_the_laboratory_limit() -> None:
    """[G]: no numeric threshold of our own; the laboratory's upper limit is the threshold shown."""
    run = play(BACK_PAIN, lab("day 3 10:00", "alkaline_phosphatase", 250, "U/L", high=130))
    data = run.last("R13").data
    assert data["reason"] == (
        "Back pain with raised alkaline phosphatase (ALP): consider bone imaging and an infection or myeloma work-up."
    )
    assert data["evidence"] == [
        {
            "event_id": "ev2",
            "event_type": "carepath.lab.resulted.v1",
            "fact": "alkaline_phosphatase",
            "value": 250,
            "unit": "U/L",
            "threshold": "> 130 U/L (laboratory upper limit)",
            "time": "2024-05-03T10:00:00.000Z",
        }
    ]


def test_result_back_in_range_resolves() -> None:
    """[G]: a newer result within the laboratory's range closes R13."""
    run = play(
        BACK_PAIN,
        lab("day 3 10:00", "crp", 30, "mg/L", high=5),
        lab("day 10 10:00", "crp", 4, "mg/L", high=5),
    )
    assert run.changes("R13") == ["R13 raised routine", "R13 resolved routine"]


def test_counts_toward_r4_as_a_weak_factor() -> None:
    """CLINICAL R13: a raised marker counts toward R4 (ACP/APS 2007 weak factors)."""
    run = play(BACK_PAIN, lab("day 3 10:00", "esr", 45, "mm/h", high=20))
    assert run.changes("R4", "R13") == ["R4 raised routine", "R13 raised routine"]
