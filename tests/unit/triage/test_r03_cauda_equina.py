"""R3 CAUDA_EQUINA: in any patient, saddle anaesthesia, new urinary retention or incontinence, faecal
incontinence, or severe or progressive leg weakness.

Source: NHS red-flag pathways for cauda equina syndrome [S]; ACR Appropriateness Criteria, low back pain
(2021), variant 4 [P]. Emergency: emergency department within 1 h [G], emergency MRI within 4 h [G].
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import cancer, care_step, imaging, iso, pain, play

pytestmark = pytest.mark.unit

# fmt: off
SCENARIOS = [
    # description,                              pain report (day 2 10:00, no cancer)                                      R3 out
    ("saddle anaesthesia",                      dict(nrs=6, neurological=["saddle_anaesthesia"]),                          ["R3 raised emergency"]),
    ("new urinary retention or incontinence",   dict(nrs=5, neurological=["bladder_dysfunction"]),                         ["R3 raised emergency"]),
    ("faecal incontinence",                     dict(nrs=5, neurological=["bowel_dysfunction"]),                           ["R3 raised emergency"]),
    ("severe leg weakness",                     dict(nrs=5, neurological=["limb_weakness"], weakness_severity="severe"),   ["R3 raised emergency"]),
    ("progressive (worsening) leg weakness",    dict(nrs=5, neurological=["limb_weakness"], weakness_severity="mild",
                                                     neurological_status="worsening"),                                    ["R3 raised emergency"]),
    ("mild new leg weakness: not R3",           dict(nrs=5, neurological=["limb_weakness"], weakness_severity="mild"),     []),
    ("moderate new leg weakness: not R3",       dict(nrs=5, neurological=["limb_weakness"], weakness_severity="moderate"), []),
    ("numbness of the legs only: not R3",       dict(nrs=5, neurological=["sensory_loss"]),                                []),
    ("stable known bladder dysfunction",        dict(nrs=5, neurological=["bladder_dysfunction"], neurological_status="stable"), []),
    ("sciatica-like radicular pain",            dict(nrs=7, character=["radicular"]),                                     []),
]
# fmt: on


@pytest.mark.parametrize(("description", "report", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r3_scenarios(description: str, report: dict, expected: list[str]) -> None:
    """NHS cauda equina red flags: these features are an emergency in any patient, with or without cancer."""
    assert play(pain("day 2 10:00", **report)).changes("R3") == expected


def test_reason_and_immediate_deadlines() -> None:
    """NHS cauda equina pathway [S]: emergency department now (1 h [G]), emergency MRI (4 h [G])."""
    run = play(pain("day 2 10:00", nrs=6, neurological=["saddle_anaesthesia", "bladder_dysfunction"]))
    data = run.last("R3").data
    assert data["reason"] == (
        "New saddle anaesthesia and bladder dysfunction: possible cauda equina syndrome or spinal cord "
        "compression, an emergency."
    )
    assert [(a["within"], a["deadline"]) for a in data["actions"]] == [
        ("PT1H", iso("day 2 11:00")),
        ("PT4H", iso("day 2 14:00")),
    ]


def test_severe_weakness_is_named_with_its_severity() -> None:
    """NHS cauda equina pathway [S]: severe or progressive leg weakness; the reason names it."""
    run = play(pain("day 2 10:00", nrs=5, neurological=["limb_weakness"], weakness_severity="severe"))
    data = run.last("R3").data
    assert data["reason"].startswith("Severe limb weakness:")
    assert {"fact": "limb_weakness severity", "value": "severe"}.items() <= data["evidence"][0].items()


def test_with_cancer_both_r1_and_r3_are_raised() -> None:
    """Different actions: R1 asks for the MSCC coordinator, R3 for the emergency department."""
    run = play(
        cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=6, neurological=["saddle_anaesthesia"])
    )
    assert run.changes() == ["R1 raised emergency", "R3 raised emergency"]


def test_lumbar_mri_excluding_compression_resolves_r3() -> None:
    """A final lumbar MRI can exclude cauda equina compression."""
    run = play(
        pain("day 2 10:00", nrs=6, neurological=["saddle_anaesthesia"]),
        imaging("day 2 13:00", "mri", "lumbar", "final", {"cauda_equina_compression": "excluded"}),
    )
    assert run.changes("R3") == ["R3 raised emergency", "R3 resolved emergency"]


def test_mri_with_possible_compression_does_not_resolve_r3() -> None:
    """ACR variant 4 [P]: possible compression on MRI does not exclude it (and raises R8)."""
    run = play(
        pain("day 2 10:00", nrs=6, neurological=["saddle_anaesthesia"]),
        imaging("day 2 13:00", "mri", "lumbar", "final", {"cauda_equina_compression": "possible"}),
    )
    assert run.changes("R3", "R8") == ["R3 raised emergency", "R8 raised emergency"]


def test_clinician_review_excluding_compression_resolves_r3() -> None:
    """A documented clinician conclusion that compression is excluded closes R3."""
    run = play(
        pain("day 2 10:00", nrs=6, neurological=["bowel_dysfunction"]),
        care_step("day 2 12:00", "clinician_review", conclusion="mscc_excluded"),
    )
    assert run.changes("R3") == ["R3 raised emergency", "R3 resolved emergency"]
