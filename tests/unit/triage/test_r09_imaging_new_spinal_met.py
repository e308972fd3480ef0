"""R9 IMAGING_NEW_SPINAL_MET: a new vertebral metastasis (or epidural disease) without compression.

Source: secondary restatements of NICE NG234 [S]; deadlines are local defaults [G]. Urgent: oncology or
MDT referral and a SINS assessment within 7 days; with an unknown primary also CT chest, abdomen and
pelvis, a myeloma screen and a biopsy.
"""

from __future__ import annotations

import pytest

from tests.unit.triage.triage_spec import cancer, care_step, imaging, iso, play

pytestmark = pytest.mark.unit

MET = {"new_vertebral_metastasis": "confirmed"}

# fmt: off
SCENARIOS = [
    # description,                                events in                                                                         R8/R9 out
    ("bone scan, new metastasis",                 [imaging("day 2 10:00", "bone_scan", "whole_spine", "final", MET)],                   ["R9 raised urgent"]),
    ("MRI, possible metastasis",                  [imaging("day 2 10:00", "mri", "lumbar", "final", {"new_vertebral_metastasis": "possible"})], ["R9 raised urgent"]),
    ("MRI, epidural disease without compression", [imaging("day 2 10:00", "mri", "thoracic", "final", {"epidural_disease": "confirmed"})], ["R9 raised urgent"]),
    ("metastasis excluded",                       [imaging("day 2 10:00", "mri", "lumbar", "final", {"new_vertebral_metastasis": "excluded"})], []),
    ("metastasis with compression: R8 instead",   [imaging("day 2 10:00", "mri", "thoracic", "final",
                                                           {"new_vertebral_metastasis": "confirmed", "cord_compression": "confirmed"})], ["R8 raised emergency"]),
]
# fmt: on


@pytest.mark.parametrize(("description", "events", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_r9_scenarios(description: str, events: list, expected: list[str]) -> None:
    """A new spinal metastasis needs oncology referral and a stability assessment (SINS)."""
    assert play(*events).changes("R8", "R9") == expected


def test_known_primary_gets_referral_and_sins() -> None:
    """NG234 [S]: oncology or MDT referral and a SINS assessment within 7 days [G]."""
    run = play(cancer("day 1 09:00", "breast"), imaging("day 2 10:00", "mri", "lumbar", "final", MET))
    data = run.last("R9").data
    assert data["reason"] == (
        "MRI shows confirmed vertebral metastasis without compression: oncology referral and a SINS assessment are needed."
    )
    assert [a["action"] for a in data["actions"]] == [
        "Refer to oncology or the spinal metastases MDT",
        "Calculate the SINS score",
    ]
    assert data["deadline"] == iso("day 9 10:00")


@pytest.mark.parametrize(
    "history", [[], [cancer("day 1 09:00", "unknown_primary")]], ids=["no cancer", "unknown primary"]
)
def test_unknown_primary_adds_the_work_up(history: list) -> None:
    """NG234 [S]: with no known primary, CT chest/abdomen/pelvis, myeloma screen and biopsy."""
    run = play(*history, imaging("day 2 10:00", "mri", "lumbar", "final", MET))
    actions = [a["action"] for a in run.last("R9").data["actions"]]
    assert actions[-1] == "Unknown primary - CT of chest, abdomen and pelvis, myeloma screen and biopsy"


def test_referral_resolves() -> None:
    """A recorded oncology or MDT referral closes R9."""
    run = play(
        imaging("day 2 10:00", "mri", "lumbar", "final", MET), care_step("day 4 10:00", "referral_made")
    )
    assert run.changes("R9") == ["R9 raised urgent", "R9 resolved urgent"]
