"""Every reader of the contract reads every valid example, every code list a core keeps agrees with the
schemas, and everything the cores write is valid against the output schemas."""

from __future__ import annotations

import json
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from carepath import contracts, envelope
from carepath.resources import pathways_dir, schemas_dir
from followup.core import PatientExpectations, Tick, advance, parse_input
from followup.core import load_pathway as load_followup
from followup.core import vocabulary as fv
from intake.routes.acknowledgements import Role
from triage.core import PatientState, evaluate, load_pathway, parse_event

pytestmark = pytest.mark.contract
EXAMPLES = schemas_dir() / "examples"
PATHWAY = pathways_dir() / "mscc"


def valid_examples(kinds: frozenset[str]) -> list[tuple[str, Path]]:
    return [(t, f) for t in sorted(kinds) for f in sorted((EXAMPLES / t / "valid").glob("*.json"))]


@pytest.mark.parametrize(
    ("etype", "path"), valid_examples(contracts.INPUT_TYPES), ids=lambda x: getattr(x, "name", x)
)
def test_every_input_example_is_read_by_every_reader(etype: str, path: Path) -> None:
    event = json.loads(path.read_text())
    followup_input = parse_input(event)
    assert followup_input.type == etype
    if etype != "carepath.escalation.acknowledged.v1":  # triage never reads acknowledgements
        assert parse_event(event).patient_id == event["subject"]


@pytest.mark.parametrize(
    ("etype", "path"),
    [(t, f) for t, f in valid_examples(contracts.OUTPUT_TYPES) if t.startswith("carepath.escalation.")],
    ids=lambda x: getattr(x, "name", x),
)
def test_followup_reads_every_escalation_example(etype: str, path: Path) -> None:
    assert parse_input(json.loads(path.read_text())).type == etype


@pytest.mark.parametrize(
    ("codes", "etype", "pointer"),
    [
        (fv.MODALITIES, "carepath.imaging.resulted.v1", "/modality"),
        (fv.REGIONS, "carepath.imaging.resulted.v1", "/region"),
        (fv.REPORT_STATUSES, "carepath.imaging.resulted.v1", "/report_status"),
        (fv.TREATMENT_CATEGORIES, "carepath.treatment.changed.v1", "/category"),
        (fv.TREATMENT_CHANGES, "carepath.treatment.changed.v1", "/change"),
        (fv.LAB_TESTS, "carepath.lab.resulted.v1", "/test"),
        (fv.CARE_STEPS, "carepath.care_step.recorded.v1", "/step"),
        (fv.DECISIONS, "carepath.care_step.recorded.v1", "/decision"),
        (fv.CONCLUSIONS, "carepath.care_step.recorded.v1", "/conclusion"),
        (fv.ROLES, "carepath.escalation.acknowledged.v1", "/role"),
        (frozenset(typing.get_args(Role)), "carepath.escalation.acknowledged.v1", "/role"),
    ],
)
def test_code_lists_kept_in_code_match_the_schemas(codes: frozenset[str], etype: str, pointer: str) -> None:
    assert frozenset(codes) == contracts.schema_enum(etype, pointer)


def test_followup_knows_exactly_the_triage_rules_of_the_pathway() -> None:
    rules = yaml.safe_load((PATHWAY / "redflags.yaml").read_text())["rules"]
    assert {r["id"]: r["name"] for r in rules} == fv.TRIAGE_RULES


def demo_events() -> list[dict[str, Any]]:
    from carepath_tools.demo import duration

    feed = yaml.safe_load((Path(schemas_dir()).parent / "demo" / "feed.yaml").read_text())
    origin = envelope.parse_time("2026-01-05T08:00:00Z")
    events = []
    for p in feed["patients"]:
        for i, e in enumerate(p["events"]):
            ev = envelope.cloudevent(
                id=f"{p['id']}-{i}",
                type=e["type"],
                source="urn:test",
                subject=p["id"],
                time=origin + duration(e["at"]),
                data=e["data"],
            )
            if not contracts.validate_event(ev):
                events.append(ev)
    return sorted(events, key=lambda e: e["time"])


def test_what_the_cores_write_is_valid_output() -> None:
    """The demo feed through both cores, ticking the clock to past every deadline: every escalation and
    reminder they produce passes the output schemas."""
    triage_pathway, followup_pathway = load_pathway(PATHWAY), load_followup(PATHWAY)
    states: dict[str, PatientState] = {}
    exps: dict[str, PatientExpectations] = {}
    written: list[dict[str, Any]] = []
    for ev in demo_events():
        pid, now = ev["subject"], envelope.parse_time(ev["time"])
        out = evaluate(states.get(pid) or PatientState.empty(pid), parse_event(ev), now, triage_pathway)
        states[pid] = out.state
        inputs = [ev] + [
            envelope.cloudevent(
                id=e.cloudevent_id,
                type=e.type,
                source="urn:carepath:triage",
                subject=pid,
                time=now,
                data=e.data,
            )
            for e in out.escalations
        ]
        written += inputs[1:]
        for item in inputs:
            fo = advance(
                exps.get(pid) or PatientExpectations.empty(pid), parse_input(item), now, followup_pathway
            )
            exps[pid] = fo.expectations
    end = envelope.parse_time("2026-01-20T08:00:00Z")
    for pid, e in exps.items():
        for step in range(0, 15 * 24, 6):
            fo = advance(
                e,
                Tick(),
                envelope.parse_time("2026-01-05T08:00:00Z") + timedelta(hours=step),
                followup_pathway,
            )
            e = fo.expectations
            written += [
                envelope.cloudevent(
                    id=r.cloudevent_id,
                    type=r.type,
                    source="urn:carepath:followup",
                    subject=pid,
                    time=end,
                    data=r.data,
                )
                for r in fo.reminders
            ]
    kinds = {w["type"] for w in written}
    assert {
        "carepath.escalation.raised.v1",
        "carepath.reminder.due.v1",
        "carepath.reminder.overdue.v1",
    } <= kinds
    for w in written:
        assert contracts.validate_output(w) == [], (w["type"], contracts.validate_output(w)[:2])
