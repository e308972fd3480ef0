"""R11 PATHOLOGICAL_FRACTURE: vertebral collapse or a pathological fracture on imaging; an emergency with
new or worsening neurological signs.

Source: general clinical practice [G] (SINS assessment and surgical review within 24 h).
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import care_step, imaging, iso, pain, play

pytestmark = pytest.mark.unit

# fmt: off
SCENARIOS = [
    # description,                              events in                                                                           R11 out
    ("X-ray, vertebral collapse",               [imaging("day 2 10:00", "xray", "lumbar", "final", {"vertebral_collapse": "confirmed"})],       ["R11 raised urgent"]),
    ("CT, possible pathological fracture",      [imaging("day 2 10:00", "ct", "thoracic", "final", {"pathological_fracture": "possible"})],     ["R11 raised urgent"]),
    ("fracture excluded",                       [imaging("day 2 10:00", "ct", "thoracic", "final", {"pathological_fracture": "excluded"})],     []),
    ("collapse with new numbness",              [pain("day 2 08:00", nrs=6, neurological=["sensory_loss"]),
                                                 imaging("day 2 10:00", "mri", "thoracic", "final", {"vertebral_collapse": "confirmed"})],      ["R11 raised emergency"]),
    ("collapse with a stable old deficit",      [pain("day 2 08:00", nrs=6, neurological=["sensory_loss"], neurological_status="stable"),
                                                 imaging("day 2 10:00", "mri", "thoracic", "final", {"vertebral_collapse": "confirmed"})],      ["R11 raised urgent"]),
    ("neurological signs reported afterwards",  [imaging("day 2 10:00", "xray", "lumbar", "final", {"vertebral_collapse": "confirmed"}),
                                                 pain("day 3 09:00", nrs=6, neurological=["walking_difficulty"])],                               ["R11 raised urgent", "R11 updated emergency"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r11_scenarios(description: str, events: list, expected: list[str]) -> None:
    """[G] local default: a collapsed or pathologically fractured vertebra needs SINS and a surgical review;
    with neurological signs, as an emergency."""
    assert play(*events).changes("R11") == expected


def test_reason_and_deadline() -> None:
    """Spinal surgical opinion within 24 h (BMJ 2023;383:p1973 [P] for R10; local default [G] for R11)."""
    data = (
        play(imaging("day 2 10:00", "xray", "lumbar", "final", {"vertebral_collapse": "confirmed"}))
        .last("R11")
        .data
    )
    assert (
        data["reason"]
        == "X-ray shows confirmed vertebral collapse: SINS assessment and a surgical review are needed."
    )
    assert data["deadline"] == iso("day 3 10:00")


def test_emergency_reason_names_the_neurological_signs() -> None:
    """[G]: a fracture with new neurological signs is an emergency; the reason names the signs."""
    run = play(
        pain("day 2 08:00", nrs=6, neurological=["limb_weakness"]),
        imaging("day 2 10:00", "mri", "thoracic", "final", {"pathological_fracture": "confirmed"}),
    )
    assert run.last("R11").data["reason"] == (
        "MRI shows confirmed pathological fracture with limb weakness: an emergency surgical review is needed."
    )


def test_surgical_opinion_resolves() -> None:
    """[G]: the surgical review is what R11 asks for."""
    run = play(
        imaging("day 2 10:00", "xray", "lumbar", "final", {"vertebral_collapse": "confirmed"}),
        care_step("day 3 10:00", "spinal_surgical_opinion"),
    )
    assert run.changes("R11") == ["R11 raised urgent", "R11 resolved urgent"]
