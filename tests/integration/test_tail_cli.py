"""`python -m carepath.tail`: any topic, readable, from a real broker."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from kafka import KafkaProducer

from carepath import envelope, topics
from carepath.resources import ROOT
from tests.conftest import BrokerInfo

pytestmark = pytest.mark.integration


def test_tail_prints_an_escalation_with_its_reason(broker: BrokerInfo) -> None:
    patient = f"tail-{uuid.uuid4().hex[:8]}"
    esc = {
        "specversion": "1.0",
        "id": f"esc-{patient}.r1",
        "source": "urn:carepath:triage",
        "type": "carepath.escalation.raised.v1",
        "subject": patient,
        "time": "2026-11-21T09:30:00Z",
        "data": {
            "escalation_id": f"esc-{patient}",
            "severity": "emergency",
            "rule": {"id": "R1", "name": "MSCC_SUSPECTED"},
            "reason": "Known cancer with new leg weakness.",
            "actions": [],
            "evidence": [],
            "source": "NICE CG75",
            "pathway": {"version": "1.0.0"},
        },
    }
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(topics.ESCALATIONS, key=patient.encode(), value=envelope.encode(esc)).get(10)
    producer.close()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "carepath.tail",
            topics.ESCALATIONS,
            "--bootstrap",
            broker.bootstrap,
            "--from-beginning",
            "--idle-timeout",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    mine = [block for block in out.stdout.split("RAISED") if patient in block]
    assert mine, out.stdout[-2000:]
    assert "EMERGENCY R1 MSCC_SUSPECTED" in mine[0] and "Known cancer with new leg weakness." in mine[0]


def test_tail_refuses_an_unknown_topic() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "carepath.tail", "no.such.topic"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "invalid choice" in out.stderr
