"""Symptoms recorded on their own (carepath.symptom.recorded.v1) are read by the rules that read pain.

Hospitals record a new neurological finding, a fever or urinary retention as its own observation (LOINC
75325-1 with a SNOMED CT finding, a temperature, a diagnosis), not inside a scored pain assessment. The
pathway's ``symptoms`` setting: such a finding takes the score and site of the pain report nearest in time
within two weeks [G]; a temperature of 38.0 Celsius or more is fever [G].
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import background, cancer, pain, play, symptom

pytestmark = pytest.mark.unit

SADDLE = dict(neurological=["saddle_anaesthesia"])


def test_a_new_neurological_finding_alone_is_an_emergency_in_any_patient() -> None:
    """R3 needs no pain score: saddle anaesthesia recorded on its own, no pain report at all."""
    assert play(symptom("day 2 10:00", **SADDLE)).changes("R3") == ["R3 raised emergency"]


def test_a_stable_or_improving_finding_is_not_new() -> None:
    run = play(
        symptom("day 2 10:00", status="improving", **SADDLE),
        symptom("day 3 10:00", status="stable", **SADDLE),
    )
    assert run.changes("R3") == []


def test_severe_weakness_recorded_alone_is_r3_and_with_cancer_and_pain_r1() -> None:
    weak = dict(neurological=["limb_weakness"], weakness_severity="severe")
    run = play(
        cancer("day 1 09:00", "prostate"),
        pain("day 2 09:00", nrs=6, site=["thoracic"]),
        symptom("day 2 10:00", **weak),
    )
    # the thoracic pain in a patient with cancer is R2; the weakness recorded an hour later is R1 and R3
    assert run.changes() == ["R2 raised urgent", "R1 raised emergency", "R3 raised emergency"]


def test_the_finding_cites_itself_and_the_pain_report_it_was_read_with() -> None:
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 09:00", nrs=7, site=["thoracic"], id="pain-1"),
        symptom("day 2 10:00", neurological=["walking_difficulty"], id="symptom-1"),
    )
    evidence = run.last("R1").data["evidence"]
    cited = {(e["event_id"], e["event_type"], e["fact"]) for e in evidence}
    assert ("symptom-1", "carepath.symptom.recorded.v1", "neurological") in cited
    assert ("pain-1", "carepath.pain.reported.v1", "nrs") in cited


def test_a_pain_report_arriving_after_the_finding_completes_the_picture() -> None:
    """R5 needs back pain and fever: the fever came first, the pain score an hour later."""
    run = play(
        background("day 1 09:00", risk_factors=["iv_drug_use"]),
        symptom("day 2 09:00", systemic=["fever"]),
        pain("day 2 10:00", nrs=6),
    )
    assert run.changes("R5") == ["R5 raised urgent"]


def test_a_pain_report_more_than_two_weeks_away_is_not_read_with_the_finding() -> None:
    run = play(
        background("day 1 09:00", risk_factors=["iv_drug_use"]),
        pain("day 2 10:00", nrs=6),
        symptom("day 20 10:00", systemic=["fever"]),
    )
    assert run.changes("R5") == []


def test_a_pain_free_report_is_the_nearest_score() -> None:
    """The nearest report says NRS 0: the fever is not read as fever with back pain."""
    run = play(
        background("day 1 09:00", risk_factors=["immunosuppression"]),
        pain("day 2 08:00", nrs=6),
        pain("day 5 09:00", nrs=0),
        symptom("day 5 10:00", systemic=["fever"]),
    )
    assert run.changes("R5") == []


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (38.4, "Cel", ["R5 raised urgent"]),
        (38.0, "Cel", ["R5 raised urgent"]),
        (37.9, "Cel", []),
        (101.1, "[degF]", ["R5 raised urgent"]),  # 38.4 Celsius
        (100.2, "[degF]", []),  # 37.9 Celsius
    ],
)
def test_a_temperature_at_or_above_the_threshold_is_fever(
    value: float, unit: str, expected: list[str]
) -> None:
    run = play(
        background("day 1 09:00", risk_factors=["immunosuppression"]),
        pain("day 2 09:00", nrs=5),
        symptom("day 2 10:00", temperature={"value": value, "unit": unit}, id="temp-1"),
    )
    assert run.changes("R5") == expected


def test_the_temperature_is_the_evidence_of_the_fever() -> None:
    run = play(
        background("day 1 09:00", risk_factors=["immunosuppression"]),
        pain("day 2 09:00", nrs=5),
        symptom("day 2 10:00", temperature={"value": 101.1, "unit": "[degF]"}, id="temp-1"),
    )
    items = [e for e in run.last("R5").data["evidence"] if e["event_id"] == "temp-1"]
    assert {"fact": "temperature", "value": 101.1, "unit": "[degF]"}.items() <= items[-1].items()


def test_a_finding_does_not_change_the_pain_score_trend() -> None:
    """R12 compares pain scores: a symptom carries no score of its own, so it is neither a rise nor a baseline."""
    run = play(
        cancer("day 1 09:00", "breast", spinal_metastases="known"),
        pain("day 2 10:00", nrs=3),
        symptom("day 3 10:00", character=["night_pain"], status="stable"),
        pain("day 4 10:00", nrs=3),
    )
    assert run.changes("R12") == []
