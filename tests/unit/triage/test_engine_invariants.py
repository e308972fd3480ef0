"""Properties of the triage core over a synthetic cohort of 300 patients (late and redelivered events
included): purity, JSON-safe state, contract-valid output, a clean escalation lifecycle, idempotency, and
that re-running only the rules an event affects leaves nothing undone."""

from __future__ import annotations

import ast
import copy
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from carepath import contracts, envelope
from tests.unit.triage.triage_cohort import cohort
from tests.unit.triage.triage_spec import pathway
from triage.core import Escalation, Outcome, PatientState, evaluate, parse_event
from triage.core.engine import reevaluate

pytestmark = pytest.mark.unit

CORE = Path(__file__).resolve().parents[3] / "services" / "triage" / "triage" / "core"


@dataclass
class Step:
    event: dict[str, Any]
    before: PatientState
    before_copy: dict[str, Any]
    outcome: Outcome
    now: datetime


@pytest.fixture(scope="module")
def replay() -> list[Step]:
    states: dict[str, PatientState] = {}
    steps = []
    for event in cohort(300):
        now = datetime.fromtimestamp(event["arrives"], UTC)
        state = states.get(event["subject"]) or PatientState.empty(event["subject"])
        before_copy = copy.deepcopy(state.to_dict())
        outcome = evaluate(state, parse_event(event), now, pathway())
        states[event["subject"]] = outcome.state
        steps.append(Step(event, state, before_copy, outcome, now))
    return steps


def escalations(replay: list[Step]) -> list[tuple[Step, Escalation]]:
    return [(step, e) for step in replay for e in step.outcome.escalations]


def test_the_cohort_exercises_every_rule_and_change(replay: list[Step]) -> None:
    """The cohort is rich enough for the properties below to mean something."""
    seen = {(e.rule_id.rstrip("abc"), e.change) for _, e in escalations(replay)}
    rules = {r.id.rstrip("abc") for r in pathway().rules}
    assert {rule for rule, _ in seen} == rules
    assert {change for _, change in seen} == {"raised", "updated", "resolved"}
    assert any(step.outcome.duplicate for step in replay)


def test_evaluate_never_changes_the_state_it_was_given(replay: list[Step]) -> None:
    """Pure core: the input state is never mutated (copy on write)."""
    for step in replay:
        assert step.before.to_dict() == step.before_copy


def test_state_is_json_safe_and_round_trips(replay: list[Step]) -> None:
    """The state is the Faust table value: JSON in, the same JSON out."""
    for step in replay[::7]:
        d = step.outcome.state.to_dict()
        again = PatientState.from_dict(json.loads(json.dumps(d, allow_nan=False)))
        assert again.to_dict() == d


def test_every_escalation_is_valid_against_the_contract(replay: list[Step]) -> None:
    """Every escalation published, as the shell wraps it, passes the event contract."""
    for step, e in escalations(replay):
        ce = envelope.cloudevent(
            id=e.cloudevent_id, type=e.type, source="urn:carepath:triage", subject=step.event["subject"],
            time=step.now, data=e.data,
        )  # fmt: skip
        assert contracts.validate_output(json.loads(json.dumps(ce))) == [], (e.rule_id, e.change)


def test_reasons_are_single_clinical_sentences(replay: list[Step]) -> None:
    """Every reason is one sentence with every placeholder filled."""
    for _, e in escalations(replay):
        reason = e.data["reason"]
        assert reason[0].isupper() and reason.endswith(".") and "{" not in reason and "  " not in reason, (
            reason
        )
        assert "()" not in reason and " ." not in reason, reason


def test_lifecycle_revisions_and_one_open_escalation_per_rule(replay: list[Step]) -> None:
    """Raised, then updated (severity only rises), then resolved; revisions count up by one."""
    history: dict[str, list[Escalation]] = defaultdict(list)
    for step, e in escalations(replay):
        history[e.data["escalation_id"]].append(e)
        assert step.event["subject"] not in e.data["escalation_id"]
    for esc_id, changes in history.items():
        assert changes[0].change == "raised", esc_id
        assert [c.data["revision"] for c in changes] == list(range(1, len(changes) + 1)), esc_id
        assert all(c.change == "updated" for c in changes[1:-1]), esc_id
        assert len({c.data["raised_at"] for c in changes}) == 1
        severities = [c.severity for c in changes if c.change != "resolved"]
        ranks = ["routine", "urgent", "emergency"]
        assert severities == sorted(severities, key=ranks.index), esc_id  # updates only raise severity
    for step in replay:
        for key, record in step.outcome.state.open_escalations().items():
            assert record["rule"].startswith(key)


def test_skipping_unaffected_rules_leaves_nothing_undone(replay: list[Step]) -> None:
    """After every event, evaluating every rule again publishes nothing: the rules skipped because the
    event did not touch their facts had nothing to say."""
    for step in replay:
        assert reevaluate(step.outcome.state, step.now, pathway()).escalations == []


def test_redelivering_every_event_publishes_nothing(replay: list[Step]) -> None:
    """Idempotency: a redelivered event changes nothing: recognised by its id when its facts were kept,
    and otherwise (nothing of it was kept) recording nothing again."""
    final: dict[str, PatientState] = {}
    for step in replay:
        final[step.event["subject"]] = step.outcome.state
    duplicates = 0
    for step in replay:
        state = final[step.event["subject"]]
        again = evaluate(state, parse_event(step.event), step.now, pathway())
        assert again.state is state and again.escalations == []
        assert again.duplicate == state.has_seen(step.event["id"])
        duplicates += again.duplicate
    assert 0 < duplicates < len(replay)  # kept and recognised, and kept nothing of (treatment changes)


def test_the_core_imports_only_the_standard_library() -> None:
    """Pure core: no faust, kafka, fastapi or prometheus; YAML (carepath.yamlfile) only in the loader."""
    stdlib = set(sys.stdlib_module_names)
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                allowed = (
                    top in stdlib
                    or name.startswith("triage.core")
                    or name == "carepath.compiled"  # standard library only: whether the core runs compiled
                    or (name == "carepath" and path.name == "loader.py")  # carepath.yamlfile: strict YAML
                )
                assert allowed, f"{path.name} imports {name}"
