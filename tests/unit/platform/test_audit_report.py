"""The pathway timeliness report (``python -m carepath.audit``) over an audit trail that followup wrote.

The trail comes from followup's own code (``followup.batch``, as the worker runs it), for four patients
whose whole-spine MRI (F3, 24 hours from suspected MSCC) was reported in 10 h, reported in 30 h, never
reported, or no longer needed once the escalation was resolved.
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from carepath import audit, envelope
from followup.batch import Incoming, run_inputs, run_tick
from tests.unit.followup.followup_timeline import PATHWAY, at, escalation, imaging, resolved

pytestmark = pytest.mark.unit


def trail() -> list[dict[str, Any]]:
    table: dict[bytes, bytes] = {}
    out: list[dict[str, Any]] = []

    def keep(result: Any) -> None:
        out.extend(envelope.decode(a.value) for a in result.audited)
        table.update({k: s.value for k, s in result.states.items()})

    def send(patient: str, event: dict[str, Any], now: Any) -> None:
        event = event | {"subject": patient, "id": f"{patient}-{event['id']}"}
        if "escalation_id" in event["data"]:
            event["data"] = event["data"] | {"escalation_id": f"esc-{patient}"}
        keep(run_inputs([Incoming(patient.encode(), envelope.encode(event))], table.get, now, PATHWAY))

    for patient in ("in-time", "late", "never", "resolved"):
        send(patient, escalation("R1", evidence_at=at(0)), at(minutes=1))
    send("in-time", imaging(at(hours=10)), at(hours=10))
    send("resolved", resolved("R1", at(hours=3)), at(hours=3))
    keep(run_tick([p.encode() for p in ("late", "never")], table.get, at(hours=25), PATHWAY))
    send("late", imaging(at(hours=30)), at(hours=30))
    return out


def test_the_mri_within_24_hours_share_counts_done_and_overdue_and_leaves_out_what_was_not_needed() -> None:
    rep = audit.report(trail(), at(days=-1), at(days=1), at(days=3))
    [f3] = [r for r in rep.rows if r.rule == "F3"]
    assert (f3.opened, f3.done, f3.within, f3.counted) == (4, 2, 1, 3)
    assert f3.target == timedelta(hours=24)
    assert f3.percentile(0.5) == pytest.approx(20 * 3600)  # 10 h and 30 h
    breaches = {(c.patient, c.rule, verdict) for c, verdict in rep.breaches}
    assert ("late", "F3", "late") in breaches and ("never", "F3", "overdue") in breaches
    assert not {p for p, rule, _ in breaches if rule == "F3"} & {"in-time", "resolved"}


def test_an_open_expectation_before_its_deadline_is_pending_not_a_breach() -> None:
    rep = audit.report(trail(), at(days=-1), at(days=1), at(hours=20))
    [f3] = [r for r in rep.rows if r.rule == "F3"]
    assert (f3.within, f3.counted) == (1, 1)  # only the MRI at 10 h is judged yet
    assert not [c for c, _ in rep.breaches if c.rule == "F3"]


def test_clocks_started_outside_the_period_are_left_out() -> None:
    assert audit.report(trail(), at(days=1), at(days=2), at(days=3)).rows == []


def test_a_record_seen_twice_counts_once_and_an_unreadable_one_is_counted_apart() -> None:
    records = trail()
    once = audit.report(records, at(days=-1), at(days=1), at(days=3))
    twice = audit.report(records + records, at(days=-1), at(days=1), at(days=3))
    assert [(r.opened, r.within, r.counted) for r in once.rows] == [
        (r.opened, r.within, r.counted) for r in twice.rows
    ]
    good, bad = audit.decode(
        [json.dumps(records[0]).encode(), b"{not json", b'{"type": "other", "data": {}}']
    )
    assert (len(good), bad) == (1, 2)


def test_the_files_hold_the_table_the_breaches_and_a_page_with_a_chart(tmp_path: Path) -> None:
    rep = audit.report(trail(), at(days=-1), at(days=1), at(days=3))
    summary, breaches, page = audit.write_files(rep, tmp_path)
    rows = {r["expectation"]: r for r in csv.DictReader(summary.open(encoding="utf-8"))}
    assert rows["F3"]["share_within_target"] == str(round(1 / 3, 4))
    listed = list(csv.DictReader(breaches.open(encoding="utf-8")))
    assert {("late", "late"), ("never", "overdue")} <= {
        (b["patient"], b["outcome"]) for b in listed if b["expectation"] == "F3"
    }
    text = page.read_text(encoding="utf-8")
    assert "<svg" in text and "33% (1/3)" in text and "patient never" in text
