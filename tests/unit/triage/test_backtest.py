"""python -m triage.backtest: replay a JSON-lines file of CloudEvents through the core, no broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.triage.triage_spec import PATHWAY_DIR, Timeline, cancer, imaging, pain
from triage.backtest import main

pytestmark = pytest.mark.unit


def write_events(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def events_file(tmp_path: Path) -> Path:
    r1 = Timeline(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, neurological=["limb_weakness"]),
        imaging("day 2 20:00", "mri", "whole_spine", "final", {"cord_compression": "excluded"}),
        patient="p-1",
    )
    benign = Timeline(pain("day 2 11:00", nrs=3, character=["mechanical"]), patient="p-2")
    lines = [
        json.dumps(e.cloudevent(i, t.patient))
        for t in (r1, benign)
        for e, i in zip(t.events, t.ids(), strict=True)
    ]
    lines.insert(2, "{not json")
    lines.insert(
        3,
        json.dumps(
            {
                "id": "x",
                "type": "carepath.pain.reported.v1",
                "subject": "p-3",
                "time": "yesterday",
                "data": {},
            }
        ),
    )
    lines.append(lines[0])  # a redelivered event
    return write_events(tmp_path / "events.jsonl", lines)


def test_json_report_counts_changes_per_rule_and_the_alert_burden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Machine output: counts by rule, change and severity; alert burden; bad lines by number."""
    assert main([str(events_file(tmp_path)), "--pathway", str(PATHWAY_DIR), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["events"] == 5
    assert report["duplicates"] == 1
    assert report["rules"]["R1"]["raised"] == {"routine": 0, "urgent": 0, "emergency": 1}
    assert report["rules"]["R1"]["resolved"] == {"routine": 0, "urgent": 0, "emergency": 1}
    assert report["rules"]["R2"]["raised"] == {"routine": 0, "urgent": 0, "emergency": 0}
    assert report["burden"] == {
        "patients": 2,
        "patients_with_alert": 1,
        "alerts_raised": 1,
        "alerts_per_patient": 0.5,
        "alerts_per_alerted_patient": 1.0,
        "max_alerts_for_one_patient": 1,
    }
    assert [b["line"] for b in report["bad_lines"]] == [3, 4]
    assert "events.jsonl:3: not JSON" in err
    assert "events.jsonl:4: /time: 'yesterday' is not an RFC 3339 date-time" in err


def test_table_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Human output: one row per rule (emergency/urgent/routine) and the alert burden."""
    assert main([str(events_file(tmp_path)), "--pathway", str(PATHWAY_DIR)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "pathway carepath-mscc 1.0.0: 5 events replayed (1 duplicates, 2 bad lines)"
    row = next(line for line in lines if line.startswith("R1 "))
    assert row.split() == ["R1", "MSCC_SUSPECTED", "1/0/0", "0/0/0", "1/0/0"]
    assert "alert burden: 1 alerts raised for 2 patients (0.5 per patient); 1 patients with >= 1 alert" in out


def test_unreadable_file_and_bad_pathway_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file or a malformed pathway is a clear error and exit code 2."""
    assert main([str(tmp_path / "missing.jsonl"), "--pathway", str(PATHWAY_DIR)]) == 2
    assert "backtest: cannot read" in capsys.readouterr().err
    assert main([str(events_file(tmp_path)), "--pathway", str(tmp_path)]) == 2
    assert "backtest: the pathway definition is invalid: " in capsys.readouterr().err
