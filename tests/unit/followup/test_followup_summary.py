"""The figures the followup gauges add up per patient are those of the worklist's open items: summarised
from the state directly, checked against the worklist's own view of many states the core produced."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from carepath.envelope import parse_time
from carepath.resources import pathways_dir
from carepath_tools.bench.workload import generate
from followup.batch import Incoming as FollowupIn
from followup.batch import run_inputs, run_tick
from followup.core import PatientExpectations
from followup.summary import ACKNOWLEDGEMENT_RULE, Summary, summarise
from tests.unit.followup.followup_timeline import (
    PATHWAY,
    Patient,
    acknowledgement,
    at,
    escalation,
    imaging,
    resolved,
    treatment,
)
from triage.batch import Incoming as TriageIn
from triage.batch import run_batch
from triage.core import load_pathway

pytestmark = pytest.mark.unit


def from_worklist(exps: PatientExpectations) -> tuple[Counter[str], list[float], float | None]:
    """The same figures read from the worklist's items (what a clinician sees)."""
    items = exps.open_items()
    unacked = [
        parse_time(i["opened_at"]).timestamp()
        for i in items
        if i["rule"] == ACKNOWLEDGEMENT_RULE
        and i.get("severity") == "emergency"
        and i["status"] != "acknowledged"
    ]
    return (
        Counter(i["rule"] for i in items),
        sorted(parse_time(i["due_at"]).timestamp() for i in items),
        min(unacked) if unacked else None,
    )


def figures(s: Summary) -> tuple[Counter[str], list[float], float | None]:
    return Counter(s.open_by_expectation), sorted(s.deadlines), s.oldest_unacked_emergency


def test_a_patient_through_escalation_acknowledgement_and_resolution() -> None:
    p = Patient()
    states = [p.exps]
    p.receive(escalation("R1"))
    states.append(p.exps)
    p.receive(escalation("R2", severity="urgent", escalation_id="esc-R2-1"))
    states.append(p.exps)
    p.run_until(at(minutes=20))  # A1 emergency overdue, not acknowledged
    states.append(p.exps)
    p.receive(acknowledgement(at(minutes=25), "esc-R1-1"))
    states.append(p.exps)
    p.receive(treatment(at(hours=2), "corticosteroid", "started", "dexamethasone"))
    states.append(p.exps)
    p.run_until(at(hours=13))
    states.append(p.exps)
    p.receive(imaging(at(hours=20)))
    states.append(p.exps)
    p.receive(resolved("R2", escalation_id="esc-R2-1", when=at(hours=21)))
    states.append(p.exps)
    p.run_until(at(days=5))
    states.append(p.exps)
    # A resolution naming an MRI not read yet: its expectations wait for it, off the worklist.
    p.receive(escalation("R1", evidence_at=at(days=5), escalation_id="esc-R1-2"))
    states.append(p.exps)
    mri = imaging(at(days=5, hours=3))
    p.receive(resolved("R1", at(days=5, hours=4), escalation_id="esc-R1-2", cause=mri))
    states.append(p.exps)
    assert any(e.resolving is not None for e in p.exps.open.values())
    p.receive(mri)
    states.append(p.exps)
    seen = set()
    for exps in states:
        assert figures(summarise(exps)) == from_worklist(exps)
        seen.add(summarise(exps).oldest_unacked_emergency is not None)
    assert seen == {True, False}  # both an unacknowledged emergency and none were among them


def test_every_state_of_a_synthetic_day_for_a_thousand_patients() -> None:
    base = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    workload = generate(1_000, seed=7, base=base)
    triage_pathway = load_pathway(pathways_dir() / "mscc")
    triage_state: dict[bytes, bytes] = {}
    state: dict[bytes, bytes] = {}
    decoded: dict[bytes, PatientExpectations] = {}
    events = workload.events
    for start in range(0, len(events), 500):
        chunk = events[start : start + 500]
        triaged = run_batch(
            [TriageIn(e.key, e.value, 0.0) for e in chunk], triage_state.get, base, triage_pathway
        )
        triage_state.update(triaged.states)
        inputs = [FollowupIn(e.key, e.value) for e in chunk] + [
            FollowupIn(o.key, bytes(o.value)) for o in triaged.outgoing
        ]
        result = run_inputs(inputs, state.get, base, PATHWAY)
        state.update({k: s.value for k, s in result.states.items()})
        decoded.update({k: s.expectations for k, s in result.states.items()})
    for hours in (0.5, 3, 13, 30):  # reminders fired along the way: overdue, re-notified
        result = run_tick(list(state), state.get, base + timedelta(hours=hours), PATHWAY)
        state.update({k: s.value for k, s in result.states.items()})
        decoded.update({k: s.expectations for k, s in result.states.items()})
    kinds: Counter[str] = Counter()
    for exps in decoded.values():
        assert figures(summarise(exps)) == from_worklist(exps)
        kinds.update(summarise(exps).open_by_expectation)
    assert len(kinds) >= 4, kinds  # several kinds of expectation were open at the end
