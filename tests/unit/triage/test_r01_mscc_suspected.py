"""R1 MSCC_SUSPECTED: a past or current cancer and any new or worsening neurological feature.

Source: NICE NG234 1.5.2, 1.8.1 [S]; NICE CG75 [P]; NICE QS56 statements 3-4 [P]. Emergency: contact the
MSCC coordinator within 1 hour [G], dexamethasone 16 mg within 4 hours [S], whole-spine MRI within 24 h.
"""

from __future__ import annotations

import itertools

import pytest

from tests.unit.triage.triage_spec import (
    Timeline,
    cancer,
    care_step,
    evidence_values,
    imaging,
    iso,
    pain,
    play,
    treatment,
)

pytestmark = pytest.mark.unit

WEAK_LEGS = {"neurological": ["limb_weakness", "walking_difficulty"]}

# fmt: off
SCENARIOS = [
    # description,                                   events in                                                                        R1 out
    ("active breast cancer, new leg weakness",       [cancer("day 1 09:00", "breast"),
                                                      pain("day 2 10:00", nrs=6, site=["thoracic"], **WEAK_LEGS)],                    ["R1 raised emergency"]),
    ("prostate cancer in remission, new numbness",   [cancer("day 1 09:00", "prostate", "remission"),
                                                      pain("day 2 10:00", nrs=4, neurological=["sensory_loss"])],                     ["R1 raised emergency"]),
    ("past lung cancer, radicular pain",             [cancer("day 1 09:00", "lung", "history"),
                                                      pain("day 2 10:00", nrs=5, character=["radicular"])],                           ["R1 raised emergency"]),
    ("myeloma, worsening bladder dysfunction",       [cancer("day 1 09:00", "myeloma"),
                                                      pain("day 2 10:00", nrs=3, neurological=["bladder_dysfunction"],
                                                           neurological_status="worsening")],                                          ["R1 raised emergency"]),
    ("neuro feature without any pain (NRS 0)",       [cancer("day 1 09:00", "kidney"),
                                                      pain("day 2 10:00", nrs=0, neurological=["walking_difficulty"])],               ["R1 raised emergency"]),
    ("late cancer diagnosis after the symptoms",     [pain("day 2 10:00", nrs=6, **WEAK_LEGS),
                                                      cancer("day 1 09:00", "breast", arrives="day 2 11:00")],                        ["R1 raised emergency"]),
    ("no cancer: weakness alone is not R1",          [pain("day 2 10:00", nrs=6, **WEAK_LEGS)],                                       []),
    ("cancer, stable known deficit",                 [cancer("day 1 09:00", "breast"),
                                                      pain("day 2 10:00", nrs=6, neurological_status="stable", **WEAK_LEGS)],         []),
    ("cancer, back pain without neuro features",     [cancer("day 1 09:00", "breast"),
                                                      pain("day 2 10:00", nrs=5, site=["lumbar"], character=["mechanical"])],         []),
    ("cancer refuted",                               [cancer("day 1 09:00", "breast", verification="refuted"),
                                                      pain("day 2 10:00", nrs=6, **WEAK_LEGS)],                                       []),
    ("cancer entered in error, then withdrawn",      [cancer("day 1 09:00", "breast"),
                                                      cancer("day 1 12:00", "breast", verification="entered_in_error"),
                                                      pain("day 2 10:00", nrs=6, **WEAK_LEGS)],                                       []),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r1_scenarios(description: str, events: list, expected: list[str]) -> None:
    """NICE CG75 / NG234 1.5.2: any cancer plus new or worsening neurological symptoms is MSCC until proven
    otherwise; a stable, already assessed deficit or a neurological symptom without cancer is not R1."""
    assert play(*events).changes("R1") == expected


def test_escalation_carries_reason_evidence_actions_deadlines_and_pathway() -> None:
    """CG75: contact the MSCC coordinator immediately (1 h [G]); NG234 1.8.1: dexamethasone 16 mg (4 h [S]);
    QS56 st. 3: whole-spine MRI within 24 h. Evidence lists the triggering events and values."""
    run = play(
        cancer("day 1 09:00", "breast", id="dx-1"),
        pain("day 2 10:00", nrs=6, site=["thoracic"], id="pain-1", **WEAK_LEGS),
    )
    esc = run.last("R1")
    assert esc.type == "carepath.escalation.raised.v1"
    assert esc.change == "raised"
    assert esc.cloudevent_id == f"{esc.data['escalation_id']}.r1"
    data = esc.data
    assert data["reason"] == (
        "Known breast cancer with new limb weakness and difficulty walking: "
        "suspected metastatic spinal cord compression."
    )
    assert data["status"] == "open"
    assert data["revision"] == 1
    assert data["rule"] == {"id": "R1", "name": "MSCC_SUSPECTED"}
    assert data["pathway"] == {"id": "carepath-mscc", "version": "1.0.0"}
    assert "CG75" in data["source"]
    assert [(e["event_id"], e["fact"], e["value"]) for e in data["evidence"]] == [
        ("dx-1", "cancer", "breast (active)"),
        ("pain-1", "neurological", ["limb_weakness", "walking_difficulty"]),
    ]
    assert [(a["within"], a["deadline"]) for a in data["actions"]] == [
        ("PT1H", iso("day 2 11:00")),
        ("PT4H", iso("day 2 14:00")),
        ("PT24H", iso("day 3 10:00")),
    ]
    assert data["deadline"] == iso("day 2 11:00")
    assert data["raised_at"] == iso("day 2 10:00")


def test_deadlines_count_from_the_symptom_not_from_a_late_feed() -> None:
    """A report of 10:00 that reaches triage at 14:00 is already 3 hours past its 1-hour contact deadline:
    the deadline stays at 11:00 (clinical time); raised_at records when triage saw it."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, arrives="day 2 14:00", **WEAK_LEGS),
    )
    data = run.last("R1").data
    assert data["deadline"] == iso("day 2 11:00")
    assert data["raised_at"] == iso("day 2 14:00")


def test_late_cancer_diagnosis_anchors_at_the_later_of_the_two_facts() -> None:
    """The rule became true when both facts were known clinically: a cancer recorded at 12:00 after an
    11:00 symptom starts the clock at 12:00."""
    run = play(pain("day 2 11:00", nrs=6, **WEAK_LEGS), cancer("day 2 12:00", "lung"))
    assert run.last("R1").data["deadline"] == iso("day 2 13:00")


def test_redelivered_event_is_a_duplicate_with_no_output_and_unchanged_state() -> None:
    """Idempotency: the same event id delivered again changes nothing."""
    timeline = Timeline(cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=6, **WEAK_LEGS))
    run = timeline.play(order=[1, 2, 2])
    assert run.changes() == ["R1 raised emergency"]
    assert run.outcomes[2].duplicate is True
    assert run.outcomes[2].escalations == []
    assert run.outcomes[2].state.to_dict() == run.outcomes[1].state.to_dict()


def test_same_evidence_again_raises_nothing() -> None:
    """At most one open escalation per rule: a second report of the same symptoms publishes nothing."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        pain("day 2 16:00", nrs=6, **WEAK_LEGS),
        pain("day 3 08:00", nrs=5, neurological=["limb_weakness"], neurological_status="worsening"),
    )
    assert run.changes("R1") == ["R1 raised emergency"]


def test_whole_spine_mri_excluding_compression_resolves_and_a_new_episode_gets_a_new_id() -> None:
    """QS56 st. 3: the MRI answers the question. A later new deficit is a new episode: new id, revision 1."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        imaging("day 2 20:00", "mri", "whole_spine", "final", {"cord_compression": "excluded"}),
        pain("day 9 10:00", nrs=6, neurological=["saddle_anaesthesia"]),
    )
    assert run.changes("R1") == ["R1 raised emergency", "R1 resolved emergency", "R1 raised emergency"]
    first, resolved, second = (e for e in run.escalations if e.rule_id == "R1")
    assert resolved.data["escalation_id"] == first.data["escalation_id"]
    assert resolved.data["revision"] == 2
    assert resolved.cloudevent_id.endswith(".r2")
    assert resolved.data["status"] == "resolved"
    assert "no spinal cord or cauda equina compression" in resolved.data["resolution"]
    assert second.data["escalation_id"] != first.data["escalation_id"]
    assert second.data["revision"] == 1


def test_final_report_without_any_compression_finding_also_excludes() -> None:
    """Contract: a final MRI/CT with no compression finding excludes MSCC."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        imaging("day 2 20:00", "ct", "whole_spine", "final", {"new_vertebral_metastasis": "confirmed"}),
    )
    assert run.changes("R1") == ["R1 raised emergency", "R1 resolved emergency"]


@pytest.mark.parametrize(
    ("description", "report"),
    [
        (
            "a lumbar MRI cannot exclude thoracic compression",
            imaging("day 2 20:00", "mri", "lumbar", "final"),
        ),
        ("a preliminary report is not final", imaging("day 2 20:00", "mri", "whole_spine", "preliminary")),
        ("an MRI from before the symptoms", imaging("day 2 08:00", "mri", "whole_spine", "final")),
        ("an X-ray cannot exclude compression", imaging("day 2 20:00", "xray", "whole_spine", "final")),
    ],
)
def test_imaging_that_does_not_close_r1(description: str, report: object) -> None:
    """Only a final whole-spine MRI or CT after the symptoms excludes MSCC (NICE: whole-spine MRI)."""
    run = play(cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=6, **WEAK_LEGS), report)  # type: ignore[arg-type]
    assert run.changes("R1") == ["R1 raised emergency"], description
    assert run.open_rules().count("R1") == 1


def test_mri_showing_compression_keeps_r1_open_beside_r8_until_the_treatment_decision() -> None:
    """QS56 st. 3 and 6: confirmed compression needs a definitive plan (R8). R1 stays open so that its
    follow-ups (coordinator contact, dexamethasone) are not cancelled; the decision closes both."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        imaging("day 2 18:00", "mri", "whole_spine", "final", {"cord_compression": "confirmed"}),
    )
    assert run.changes("R1", "R8") == ["R1 raised emergency", "R8 raised emergency"]
    assert run.open_rules() == ["R1", "R8"]
    decided = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        imaging("day 2 18:00", "mri", "whole_spine", "final", {"cord_compression": "confirmed"}),
        care_step("day 2 22:00", "decision_to_treat", decision="radiotherapy"),
        pain("day 30 10:00", nrs=5, neurological=["bladder_dysfunction"]),
    )
    assert decided.changes("R1", "R8") == [
        "R1 raised emergency",
        "R8 raised emergency",
        "R1 resolved emergency",
        "R8 resolved emergency",
        "R1 raised emergency",
    ]


def test_the_same_deficit_recorded_again_after_the_decision_does_not_raise_again() -> None:
    """A flowsheet carries the last assessment's findings forward: the radicular pain of day 2 listed again
    on day 3, with no course stated, is the deficit already acted on (read as stable). A deficit the report
    before did not list, or one stated as worsening, is new and raises R1 again."""
    shared = [
        cancer("day 1 09:00", "lung"),
        pain("day 2 10:00", nrs=8, site=["thoracic"], character=["radicular"]),
        care_step("day 2 17:00", "decision_to_treat", decision="radiotherapy"),
    ]
    again = play(*shared, pain("day 3 10:00", nrs=6, site=["thoracic"], character=["radicular"]))
    assert again.changes("R1") == ["R1 raised emergency", "R1 resolved emergency"]
    worse = play(
        *shared,
        pain(
            "day 3 10:00", nrs=6, site=["thoracic"], character=["radicular"], neurological_status="worsening"
        ),
    )
    assert worse.changes("R1")[-1] == "R1 raised emergency"
    added = play(
        *shared,
        pain("day 3 10:00", nrs=6, site=["thoracic"], character=["radicular"], neurological=["sensory_loss"]),
    )
    assert added.changes("R1")[-1] == "R1 raised emergency"
    weeks_later = play(*shared, pain("day 20 10:00", nrs=6, site=["thoracic"], character=["radicular"]))
    assert weeks_later.changes("R1")[-1] == "R1 raised emergency"


def test_mri_that_excluded_compression_after_the_symptoms_arriving_first_raises_nothing() -> None:
    """Order of arrival does not matter: the symptom report of 10:00 arrives after the 20:00 MRI that
    already answered the question."""
    run = play(
        cancer("day 1 09:00", "breast"),
        imaging("day 2 20:00", "mri", "whole_spine", "final", {"cord_compression": "excluded"}),
        pain("day 2 10:00", nrs=6, arrives="day 2 21:00", **WEAK_LEGS),
    )
    assert run.changes("R1") == []


def test_clinician_review_excluding_mscc_resolves() -> None:
    """A clinician's documented conclusion closes the question."""
    run = play(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        care_step("day 2 12:00", "clinician_review", conclusion="mscc_excluded"),
    )
    assert run.changes("R1") == ["R1 raised emergency", "R1 resolved emergency"]
    assert run.last("R1").data["resolution"] == "A clinician review excluded MSCC."


def test_events_triage_does_not_read_change_nothing_and_are_not_kept() -> None:
    """A treatment event raises nothing and leaves the state as it was: not even its id is kept (a
    redelivery of it records nothing either)."""
    run = play(cancer("day 1 09:00", "breast"), treatment("day 1 10:00", "strong_opioid"))
    assert run.changes() == []
    assert run.state is not None and run.state.to_dict()["seen"] == ["ev1"]
    assert run.outcomes[1].state == run.outcomes[0].state


def test_escalation_id_is_deterministic_per_patient_rule_and_episode() -> None:
    """Same inputs, same id (a replay never doubles an alert); another patient, another id."""
    events = (cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=6, **WEAK_LEGS))
    first = Timeline(*events).play().last("R1").data["escalation_id"]
    again = Timeline(*events).play().last("R1").data["escalation_id"]
    other = Timeline(*events, patient="patient-0002").play().last("R1").data["escalation_id"]
    assert first == again
    assert first != other
    assert first.startswith("esc-r1-")


def test_arrival_order_does_not_change_the_outcome() -> None:
    """Every permutation of cancer, symptom and an unrelated lab ends with the same open R1."""
    timeline = Timeline(
        cancer("day 1 09:00", "colorectal"),
        pain("day 2 10:00", nrs=6, **WEAK_LEGS),
        pain("day 2 09:00", nrs=2),
    )
    outcomes = set()
    for order in itertools.permutations([1, 2, 3]):
        run = timeline.play(order=order)
        assert run.changes("R1") == ["R1 raised emergency"], order
        outcomes.add((tuple(run.open_rules()), run.last("R1").data["deadline"]))
    assert len(outcomes) == 1


def test_evidence_names_the_values_that_crossed_the_threshold() -> None:
    """CG75: the evidence shows the cancer and the neurological feature that made R1 true."""
    run = play(cancer("day 1 09:00", "thyroid"), pain("day 2 10:00", nrs=2, character=["radicular"]))
    values = evidence_values(run.last("R1"))
    assert values == {"cancer": "thyroid (active)", "character": ["radicular"]}
