"""``python -m carepath.audit`` as a governance lead runs it: a real process reading care.audit on a real
broker, where the records are the ones followup's own code writes (see tests/unit/platform/test_audit_report.py)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from carepath import topics
from carepath.resources import ROOT
from tests.conftest import BrokerInfo
from tests.unit.followup.followup_timeline import at
from tests.unit.platform.test_audit_report import trail

pytestmark = pytest.mark.integration


def test_the_report_reads_the_trail_and_writes_the_table_the_breaches_and_the_page(
    broker: BrokerInfo, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for record in trail():  # patients of this run only: other tests share the topic
        record = record | {"subject": f"{record['subject']}-{run}"}
        producer.send(topics.AUDIT, key=record["subject"].encode(), value=json.dumps(record).encode())
    producer.send(topics.AUDIT, key=b"x", value=b"{not an audit record")
    producer.flush()
    producer.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    args = [
        "--bootstrap",
        broker.bootstrap,
        "--from",
        at(days=-1).isoformat(),
        "--to",
        at(days=1).isoformat(),
    ]
    args += ["--as-of", at(days=3).isoformat(), "--out", str(tmp_path), "--timeout", "60"]
    done = subprocess.run(
        [sys.executable, "-m", "carepath.audit", *args, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["records_unreadable"] >= 1
    mine = [b for b in doc["breaches"] if b["patient"].endswith(run)]
    assert {(b["patient"], b["outcome"]) for b in mine if b["expectation"] == "F3"} == {
        (f"late-{run}", "late"),
        (f"never-{run}", "overdue"),
    }
    assert {p.name for p in tmp_path.iterdir()} == {"timeliness.csv", "breaches.csv", "timeliness.html"}
    assert any(r["expectation"] == "F3" for r in csv.DictReader((tmp_path / "timeliness.csv").open()))
    assert f"never-{run}" in (tmp_path / "timeliness.html").read_text(encoding="utf-8")


def test_a_period_that_ends_before_it_starts_is_refused_naming_the_options(broker: BrokerInfo) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "carepath.audit",
            "--bootstrap",
            broker.bootstrap,
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--to must be after --from" in done.stderr
