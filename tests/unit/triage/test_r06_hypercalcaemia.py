"""R6a/R6b/R6c HYPERCALCAEMIA: albumin-adjusted calcium in bands, sharing one escalation (group R6).

    R6a severe     adjusted Ca > 3.5 mmol/L (> 14 mg/dL), or raised with confusion, vomiting or AKI  emergency
    R6b moderate   3.0 - 3.5 mmol/L (12 - 14 mg/dL)                                                 urgent
    R6c mild       2.6 - < 3.0 mmol/L                                                               routine

Source: Society for Endocrinology emergency guidance 2016 [P]; NICE CKS hypercalcaemia [P] (CKS/CTCAE use
> 3.4 for severe: configurable). Adjusted Ca = Ca + 0.02 x (40 - albumin g/L); mg/dL / 4.008 = mmol/L.
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import iso, lab, pain, play

pytestmark = pytest.mark.unit


def calcium(value: float, unit: str = "mmol/L", when: str = "day 2 10:00", **kw: object) -> object:
    return lab(when, "calcium", value, unit, **kw)  # type: ignore[arg-type]


def albumin(value: float, unit: str = "g/L", when: str = "day 2 10:00") -> object:
    return lab(when, "albumin", value, unit)


# fmt: off
SCENARIOS = [
    # description,                               results in                                                     R6 out
    ("3.6 mmol/L, albumin 40",                   [calcium(3.6), albumin(40)],                                    ["R6a raised emergency"]),
    ("exactly 3.5 is moderate",                  [calcium(3.5), albumin(40)],                                    ["R6b raised urgent"]),
    ("exactly 3.0 is moderate",                  [calcium(3.0), albumin(40)],                                    ["R6b raised urgent"]),
    ("2.99 is mild",                             [calcium(2.99), albumin(40)],                                   ["R6c raised routine"]),
    ("exactly 2.6 is mild",                      [calcium(2.6), albumin(40)],                                    ["R6c raised routine"]),
    ("2.59 is in range",                         [calcium(2.59), albumin(40)],                                   []),
    ("14.5 mg/dL = 3.62 mmol/L",                 [calcium(14.5, "mg/dL"), albumin(40)],                          ["R6a raised emergency"]),
    ("12.1 mg/dL = 3.02 mmol/L",                 [calcium(12.1, "mg/dL"), albumin(40)],                          ["R6b raised urgent"]),
    ("12.0 mg/dL = 2.99 mmol/L",                 [calcium(12.0, "mg/dL"), albumin(40)],                          ["R6c raised routine"]),
    ("10.4 mg/dL = 2.59 mmol/L",                 [calcium(10.4, "mg/dL"), albumin(40)],                          []),
    ("2.5 with albumin 25 g/L adjusts to 2.8",   [calcium(2.5), albumin(25)],                                    ["R6c raised routine"]),
    ("2.5 with albumin 2.5 g/dL (= 25 g/L)",     [calcium(2.5), albumin(2.5, "g/dL")],                           ["R6c raised routine"]),
    ("2.7 with albumin 50 adjusts to 2.5",       [albumin(50), calcium(2.7)],                                    []),
    ("albumin 3 days away is not used",          [calcium(2.5), albumin(25, when="day 5 11:00")],                []),
    ("adjusted calcium reported as such",        [lab("day 2 10:00", "adjusted_calcium", 3.1, "mmol/L")],         ["R6b raised urgent"]),
    ("mild with confusion: symptomatic",         [calcium(2.8), albumin(40),
                                                  pain("day 2 12:00", nrs=2, systemic=["confusion"])],           ["R6c raised routine", "R6a updated emergency"]),
    ("confusion known before the result",        [pain("day 1 12:00", nrs=2, systemic=["vomiting"]),
                                                  calcium(2.8), albumin(40)],                                    ["R6a raised emergency"]),
    ("vomiting 8 days before is too far",        [pain("day 1 08:00", nrs=2, systemic=["vomiting"]),
                                                  calcium(2.8, when="day 9 10:00"), albumin(40, when="day 9 10:00")], ["R6c raised routine"]),
    ("mild with acute kidney injury",            [lab("day 1 08:00", "creatinine", 80, "umol/L"),
                                                  lab("day 2 09:00", "creatinine", 130, "umol/L"),
                                                  calcium(2.8), albumin(40)],                                    ["R6a raised emergency"]),
    ("creatinine rise below 1.5 x: no AKI",      [lab("day 1 08:00", "creatinine", 100, "umol/L"),
                                                  lab("day 2 09:00", "creatinine", 140, "umol/L"),
                                                  calcium(2.8), albumin(40)],                                    ["R6c raised routine"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r6_scenarios(description: str, events: list, expected: list[str]) -> None:
    """Society for Endocrinology 2016 / CKS: bands of adjusted calcium, in mmol/L after conversion;
    symptoms (confusion, vomiting, AKI) make any hypercalcaemia an emergency."""
    assert play(*events).changes("R6") == expected


def test_evidence_shows_the_reported_value_the_albumin_and_the_adjusted_value_with_its_band() -> None:
    """Society for Endocrinology 2016 [P]: adjusted Ca = Ca + 0.02 x (40 - albumin g/L), after unit conversion."""
    run = play(albumin(3.0, "g/dL"), calcium(14.5, "mg/dL"))
    data = run.last("R6").data
    assert (
        data["reason"]
        == "Adjusted calcium 3.82 mmol/L (> 3.5 mmol/L): severe hypercalcaemia, a medical emergency."
    )
    assert [(e["fact"], e["value"], e.get("unit"), e.get("threshold")) for e in data["evidence"]] == [
        ("calcium", 14.5, "mg/dL", None),
        ("albumin", 3.0, "g/dL", None),
        ("adjusted_calcium", 3.82, "mmol/L", "> 3.5 mmol/L"),
    ]
    assert data["deadline"] == iso("day 2 11:00")


def test_without_albumin_the_measured_calcium_is_used_and_said_so() -> None:
    """Without an albumin the measured calcium is used (the safe default) and the evidence says so."""
    run = play(calcium(3.2))
    values = {e["fact"]: e["value"] for e in run.last("R6").data["evidence"]}
    assert values["albumin"] == "no albumin within 2 days: measured calcium used unadjusted"
    assert run.changes("R6") == ["R6b raised urgent"]


def test_a_higher_band_updates_the_same_escalation_and_a_lower_one_publishes_nothing() -> None:
    """Society for Endocrinology 2016 [P]: a rise into a higher band updates; a fall publishes nothing."""
    run = play(
        calcium(2.8, when="day 2 10:00"),
        calcium(3.2, when="day 3 10:00"),
        calcium(2.9, when="day 4 10:00"),
    )
    assert run.changes("R6") == ["R6c raised routine", "R6b updated urgent"]
    raised, updated = run.escalations
    assert updated.data["escalation_id"] == raised.data["escalation_id"]
    assert updated.data["rule"] == {"id": "R6b", "name": "HYPERCALCAEMIA_MODERATE"}
    assert updated.data["deadline"] == iso("day 3 22:00")


def test_calcium_back_in_range_resolves() -> None:
    """NICE CKS [P]: adjusted calcium below 2.6 mmol/L is back in range."""
    run = play(calcium(3.2, when="day 2 10:00"), calcium(2.45, when="day 4 10:00", id="ca-normal"))
    assert run.changes("R6") == ["R6b raised urgent", "R6b resolved urgent"]
    resolved = run.last("R6").data
    assert resolved["status"] == "resolved"
    assert resolved["resolution"] == "A newer adjusted calcium is back below 2.6 mmol/L."
    assert resolved["evidence"][-1]["value"] == 2.45


def test_an_older_high_result_arriving_late_does_not_overwrite_a_newer_normal_one() -> None:
    """Latest clinical time wins: the day 2 result arriving on day 5 is older than the day 4 normal one."""
    run = play(
        calcium(2.4, when="day 4 10:00"), lab("day 2 10:00", "calcium", 3.3, "mmol/L", arrives="day 5 09:00")
    )
    assert run.changes("R6") == []


def test_late_albumin_that_moves_the_band_up_updates() -> None:
    """Order of arrival: a low albumin arriving after the calcium raises the adjusted value (0.02 x (40 - 20) = +0.4)."""
    run = play(calcium(2.9), albumin(20, when="day 2 11:00"))
    assert run.changes("R6") == ["R6c raised routine", "R6b updated urgent"]


def test_albumin_arriving_after_the_calcium_can_bring_it_back_into_range() -> None:
    """Without an albumin the measured calcium is used (the safe default); the albumin of the same sample
    arriving a moment later corrects it and closes the escalation."""
    run = play(calcium(2.7), albumin(50, when="day 2 10:05"))
    assert run.changes("R6") == ["R6c raised routine", "R6c resolved routine"]
