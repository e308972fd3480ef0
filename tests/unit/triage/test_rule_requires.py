"""A rule group that requires a fact category the state holds nothing of is not run while it has no open
escalation (``KindSpec.requires``). That is only sound if its detector can never find anything without
those facts, whatever the state and episode: these tests check that contract for every group over a
synthetic cohort, that every group still fires when its facts are there, and that evaluating with the
skip gives exactly what running every group gives."""

from __future__ import annotations

import copy
import dataclasses
import functools
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.triage.triage_cohort import cohort
from tests.unit.triage.triage_spec import background, cancer, imaging, lab, pain, pathway, play
from triage.core import Pathway, PatientState, evaluate, parse_event
from triage.core.categories import CATEGORY_BITS, category_bits
from triage.core.engine import reevaluate
from triage.core.facts import AGE_FACTS, ALL_FACTS, OPEN_ESCALATIONS, Facts, recorded, recorded_bits

pytestmark = pytest.mark.unit

# The parts of the state each fact category lives in.
PARTS = {
    "pain": ("pain",),
    "cancer": ("cancer",),
    "risk": ("risk",),
    AGE_FACTS: ("birth", "age"),
    "labs": ("labs",),
    "imaging": ("imaging",),
    "steps": ("steps",),
}


@functools.cache
def always_run() -> Pathway:
    """The pathway with no group ever skipped for a missing fact: the reference behaviour."""
    loaded = pathway()
    groups = tuple(
        dataclasses.replace(group, requires=frozenset(), requires_one_of=frozenset())
        for group in loaded.groups
    )
    return dataclasses.replace(loaded, groups=groups)


@functools.cache
def replay() -> list[tuple[dict[str, Any], PatientState, datetime]]:
    """(event, state after it, processing time) over a cohort, with the pathway as loaded."""
    states: dict[str, PatientState] = {}
    steps = []
    for event in cohort(300, seed=23):
        now = datetime.fromtimestamp(event["arrives"], UTC)
        state = states.get(event["subject"]) or PatientState.empty(event["subject"])
        outcome = evaluate(state, parse_event(event), now, pathway())
        states[event["subject"]] = outcome.state
        steps.append((event, outcome.state, now))
    return steps


def without(d: dict[str, Any], category: str) -> dict[str, Any]:
    out = dict(d)
    for part in PARTS[category]:
        out.pop(part, None)
    return out


def test_every_group_requires_only_facts_it_reads_and_every_kind_requires_something() -> None:
    for group in pathway().groups:
        assert group.requires, group.key
        assert group.requires | group.requires_one_of <= group.reads, group.key
        assert group.requires | group.requires_one_of <= ALL_FACTS - {OPEN_ESCALATIONS}, group.key
        assert len(group.requires_one_of) != 1, group.key  # a single one belongs in requires


def test_recorded_lists_the_categories_the_state_holds() -> None:
    assert recorded({"patient_id": "p", "seen": [], "open": {"R1": {}}, "closed": {"R1": 1}}) == set()
    assert recorded({"age": {"years": 70}}) == {AGE_FACTS}
    assert recorded({"birth": {"date": "1950-01-01"}, "pain": [{}], "steps": {"x": {}}}) == {
        AGE_FACTS,
        "pain",
        "steps",
    }
    for category, parts in PARTS.items():
        for part in parts:
            assert recorded({part: {"x": 1}}) == {category}
    # a part that is there but empty may count as recorded: the group then runs, which is never wrong
    assert recorded({"pain": [], "labs": {}}) <= {"pain", "labs"}


def test_recorded_never_misses_a_category_the_cohort_states_hold() -> None:
    for _, state, _ in replay():
        d = state.raw
        holds = {category for category, parts in PARTS.items() if any(d.get(part) for part in parts)}
        assert holds <= recorded(d)


def test_the_masks_the_engine_reads_are_the_categories() -> None:
    """The engine tests fact categories as bit masks: over every state of the cohort, the mask of the
    recorded categories is the mask of ``recorded``; each group's masks are those of its sets, and follow
    them when a group is rebuilt with other sets."""
    for _, state, _ in replay():
        assert recorded_bits(dict(state.raw)) == category_bits(recorded(dict(state.raw)))
    assert len(set(CATEGORY_BITS.values())) == len(ALL_FACTS) == len(CATEGORY_BITS)
    for group in pathway().groups:
        assert group.reads_bits == category_bits(group.reads) != 0
        assert group.requires_bits == category_bits(group.requires) != 0
        assert group.requires_one_of_bits == category_bits(group.requires_one_of)
    for group in always_run().groups:
        assert group.requires_bits == group.requires_one_of_bits == 0


def test_a_detector_finds_nothing_without_a_fact_it_requires() -> None:
    """Over every state of the cohort, for every group and every category it requires: with that
    category removed from the state, detect returns None for any end of the last episode."""
    rng = random.Random(5)
    checked = 0
    for _, state, _ in replay():
        d = dict(state.raw)
        for group in pathway().groups:
            for category in group.requires:
                reduced = without(d, category)
                times = [None, *(e["t"] for e in reduced.get("pain") or [])]
                times += [(reduced.get("closed") or {}).get(group.key)]
                for since in {None, *rng.sample(times, min(3, len(times)))}:
                    assert group.detector.detect(Facts(reduced), since) is None, (group.key, category)
                    checked += 1
    assert checked > 10_000


def test_a_detector_finds_nothing_without_one_of_the_facts_it_needs_one_of() -> None:
    """As above, with every category of ``requires_one_of`` removed at once (R7: neither pain nor imaging)."""
    groups = [group for group in pathway().groups if group.requires_one_of]
    assert groups
    checked = 0
    for _, state, _ in replay():
        for group in groups:
            reduced = dict(state.raw)
            for category in group.requires_one_of:
                reduced = without(reduced, category)
            for since in {None, (reduced.get("closed") or {}).get(group.key)}:
                assert group.detector.detect(Facts(reduced), since) is None, group.key
                checked += 1
    assert checked > 1_000


def test_every_group_fires_with_the_facts_it_requires() -> None:
    """In the cohort every group raises an escalation, and each time its required facts are recorded."""
    raised: set[str] = set()
    keys = {rule.id: group.key for group in pathway().groups for rule in group.rules}
    states: dict[str, PatientState] = {}
    for event in cohort(300, seed=23):
        now = datetime.fromtimestamp(event["arrives"], UTC)
        state = states.get(event["subject"]) or PatientState.empty(event["subject"])
        outcome = evaluate(state, parse_event(event), now, pathway())
        states[event["subject"]] = outcome.state
        for escalation in outcome.escalations:
            if escalation.change == "raised":
                key = keys[escalation.rule_id]
                group = next(g for g in pathway().groups if g.key == key)
                assert group.requires <= recorded(outcome.state.raw), key
                assert not group.requires_one_of or group.requires_one_of & recorded(outcome.state.raw), key
                raised.add(key)
    assert raised == {group.key for group in pathway().groups}


# The fact a group requires arrives last (for background facts, late: an older clinical time).
# fmt: off
ARRIVING_LAST = [
    ("R1",  [pain("day 2 10:00", nrs=6, site=["thoracic"], neurological=["limb_weakness"]), cancer("day 1 09:00", "breast")]),
    ("R2",  [pain("day 2 10:00", nrs=5, site=["thoracic"]), cancer("day 1 09:00", "breast")]),
    ("R3",  [background("day 1 08:00", age_years=40), pain("day 2 10:00", nrs=6, neurological=["saddle_anaesthesia"])]),
    ("R4",  [background("day 1 08:00", age_years=40), pain("day 2 10:00", nrs=4, systemic=["weight_loss"])]),
    ("R5",  [pain("day 2 10:00", nrs=6, systemic=["fever"]), background("day 1 09:00", risk_factors=["iv_drug_use"])]),
    ("R6b", [pain("day 1 10:00", nrs=2), lab("day 2 10:00", "adjusted_calcium", 3.1, "mmol/L")]),
    ("R7",  [pain("day 2 10:00", nrs=4, duration_days=35), background("day 1 08:00", age_years=65)]),
    ("R7",  [background("day 1 08:00", age_years=70), imaging("day 2 10:00", "xray", "lumbar", "final", {"vertebral_collapse": "confirmed"})]),
    ("R8",  [pain("day 1 10:00", nrs=2), imaging("day 2 10:00", "mri", "thoracic", "final", {"cord_compression": "confirmed"})]),
    ("R9",  [pain("day 1 10:00", nrs=2), imaging("day 2 10:00", "mri", "lumbar", "final", {"new_vertebral_metastasis": "possible"})]),
    ("R10", [pain("day 1 10:00", nrs=2), imaging("day 2 10:00", "ct", "thoracic", "final", None, sins=7)]),
    ("R11", [pain("day 1 10:00", nrs=2), imaging("day 2 10:00", "xray", "lumbar", "final", {"vertebral_collapse": "confirmed"})]),
    ("R12", [background("day 1 08:00", age_years=40), pain("day 2 10:00", nrs=7)]),
    ("R13", [pain("day 2 10:00", nrs=4), lab("day 3 10:00", "alkaline_phosphatase", 250, "U/L", high=130)]),
]
# fmt: on


def test_every_group_has_a_case_here() -> None:
    keys = {rule.id: group.key for group in pathway().groups for rule in group.rules}
    assert {keys[rule] for rule, _ in ARRIVING_LAST} == {group.key for group in pathway().groups}


@pytest.mark.parametrize(("rule", "events"), ARRIVING_LAST, ids=[rule for rule, _ in ARRIVING_LAST])
def test_a_group_fires_when_the_fact_it_requires_arrives(rule: str, events: list[Any]) -> None:
    run = play(*events)
    assert [e.rule_id for e in run.outcomes[0].escalations if e.change == "raised"].count(rule) == 0
    assert rule in [e.rule_id for e in run.outcomes[-1].escalations if e.change == "raised"], run.changes()


def test_skipping_gives_exactly_what_running_every_group_gives() -> None:
    """The cohort replayed with the skip and with every group run: the same states and escalations."""
    states: dict[str, PatientState] = {}
    for event in cohort(300, seed=23):
        now = datetime.fromtimestamp(event["arrives"], UTC)
        state = states.get(event["subject"]) or PatientState.empty(event["subject"])
        parsed = parse_event(event)
        skipped = evaluate(state, parsed, now, pathway())
        reference = evaluate(state, parsed, now, always_run())
        assert skipped == reference
        states[event["subject"]] = skipped.state


def test_skipping_is_the_same_on_states_missing_facts_and_with_escalations_open() -> None:
    """States no event sequence makes (a fact category removed while escalations stay open): an open
    escalation's group still runs, so resolution and updates are the same as running every group."""
    rng = random.Random(9)
    steps = replay()
    compared = 0
    for index, (_, state, now) in enumerate(steps):
        if not state.raw.get("open"):
            continue
        category = rng.choice(sorted(PARTS))
        reduced = PatientState(without(copy.deepcopy(dict(state.raw)), category))
        assert reevaluate(reduced, now, pathway()) == reevaluate(reduced, now, always_run())
        event, _, later = steps[min(index + 1, len(steps) - 1)]
        parsed = parse_event(dict(event, subject=state.patient_id, id=f"{event['id']}-again"))
        assert evaluate(reduced, parsed, later, pathway()) == evaluate(reduced, parsed, later, always_run())
        compared += 1
    assert compared > 100
