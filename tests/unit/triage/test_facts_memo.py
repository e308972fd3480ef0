"""Facts answers are computed once per evaluation and never outlive it.

One ``Facts`` serves one evaluation: the rules after the first that asks get the same answer without
computing it again, a new state (a new event) gets a new ``Facts`` and fresh answers, and what is read
from the escalation parts of the state, which the engine changes while it runs the rules, is always
read as it is now.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.triage.triage_spec import background, cancer, pain, play
from triage.core.facts import Facts

pytestmark = pytest.mark.unit

BREAST = frozenset({"breast"})
ACTIVE = frozenset({"active"})


def state_dict(*events: Any) -> dict[str, Any]:
    outcome = play(*events)
    assert outcome.state is not None
    return dict(outcome.state.raw)


def test_an_answer_is_computed_once_and_shared_by_the_rules_after() -> None:
    facts = Facts(
        state_dict(
            background("day 1 08:00", age_years=70),
            cancer("day 1 09:00", "breast"),
            pain("day 2 10:00", nrs=6, site=["lumbar"]),
        )
    )
    first = facts.cancers(BREAST, ACTIVE)
    assert [site for site, _ in first] == ["breast"]
    assert facts.cancers(BREAST, ACTIVE) is first
    assert facts.cancers(BREAST) is not first  # another question, its own answer
    assert facts.scored_pain() is facts.scored_pain()
    t = facts.pain[-1]["t"]
    assert facts.age_at(t) == (70, facts.d["age"])  # worked out each time it is asked (cheap), not kept


def test_a_new_state_gets_fresh_answers() -> None:
    """The next event's evaluation must see the cancer that event recorded, not an earlier answer."""
    before = state_dict(pain("day 1 09:00", nrs=6, site=["lumbar"]))
    after = state_dict(pain("day 1 09:00", nrs=6, site=["lumbar"]), cancer("day 1 10:00", "breast"))
    assert Facts(before).cancers(BREAST, ACTIVE) == []
    assert [site for site, _ in Facts(after).cancers(BREAST, ACTIVE)] == ["breast"]
    assert len(Facts(before).scored_pain()) == 1
    two = state_dict(pain("day 1 09:00", nrs=6, site=["lumbar"]), pain("day 1 11:00", nrs=7, site=["lumbar"]))
    assert [r["nrs"] for r in Facts(two).scored_pain()] == [6, 7]


def test_an_age_is_worked_out_for_each_time_asked() -> None:
    d = state_dict(background("day 1 09:00", age_years=59))
    d["age"] = {**d["age"], "t": 0}  # recorded at the epoch
    facts = Facts(d)
    year = 365 * 86_400_000_000
    assert facts.age_at(0) is not None and facts.age_at(0)[0] == 59
    assert facts.age_at(2 * year)[0] == 60  # type: ignore[index]
    assert facts.age_at(0)[0] == 59  # type: ignore[index]


def test_open_escalations_are_read_live_during_an_evaluation() -> None:
    d = state_dict(pain("day 1 09:00", nrs=6, site=["lumbar"]))
    facts = Facts(d)
    assert not facts.is_open("R1")
    d["open"] = {"R1": {"id": "esc-r1-x"}}  # as the engine does when a rule raises
    assert facts.is_open("R1")


def test_a_detector_keeps_its_finding_per_episode_for_the_evaluation() -> None:
    """R4 asks for its own finding again when it checks whether its condition cleared: the answer kept on
    Facts is the one it would compute, kept per end of episode, and a new Facts starts empty."""
    from tests.unit.triage.triage_spec import pathway

    (r4,) = [group for group in pathway().groups if group.key == "R4"]
    d = state_dict(
        background("day 1 08:00", age_years=40), pain("day 2 10:00", nrs=4, systemic=["weight_loss"])
    )
    facts = Facts(d)
    first = r4.detector.detect(facts, None)
    assert first is not None
    assert r4.detector.detect(facts, None) is first
    later = r4.detector.detect(facts, first.last)
    assert later is None and r4.detector.detect(facts, first.last) is None
    fresh = r4.detector.detect(Facts(d), None)
    assert fresh is not first and fresh is not None
    assert (fresh.rule_id, fresh.case, fresh.anchor, fresh.last) == (
        first.rule_id,
        first.case,
        first.anchor,
        first.last,
    )
