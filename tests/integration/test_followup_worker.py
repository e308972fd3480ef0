"""A followup worker as a real process on a real broker: escalations in, reminders out, on a fast clock."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from carepath import envelope, topics
from carepath.resources import schemas_dir
from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration
SCALE = 7200.0  # one simulated hour every half second


def start_followup(broker: BrokerInfo, log_dir: Path, **env: str) -> Stack:
    """One followup worker process on ``broker``, on the fast clock, in a group of its own; ready."""
    stack = Stack(
        log_dir=log_dir,
        time_scale=SCALE,
        bootstrap=broker.bootstrap,
        profile=broker.profile,
        extra_env={"CAREPATH_FOLLOWUP_GROUP_ID": f"fu-{uuid.uuid4().hex[:6]}", **env},
    )
    stack.start_broker()
    stack.add("followup", "followup", "CAREPATH_FOLLOWUP_PORT").start()
    stack.services["followup"].wait_ready(60)
    return stack


@pytest.fixture(scope="module")
def followup(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_followup(broker, tmp_path_factory.mktemp("followup"))
    yield stack
    stack.stop()


def r1_escalation(stack: Stack, patient: str) -> dict[str, Any]:
    example = Path(
        schemas_dir(), "examples", "carepath.escalation.raised.v1", "valid", "r1-mscc-suspected.json"
    )
    esc = copy.deepcopy(json.loads(example.read_text()))
    now = stack.clock.now()
    esc_id = f"esc-{uuid.uuid4().hex[:16]}"
    esc.update(id=f"{esc_id}.r1", subject=patient, time=envelope.iso(now))
    d = esc["data"]
    d.update(
        escalation_id=esc_id, raised_at=envelope.iso(now), deadline=envelope.iso(now + timedelta(hours=1))
    )
    for e in d["evidence"]:
        e["time"] = envelope.iso(now)
    for a in d["actions"]:
        a["deadline"] = envelope.iso(now + timedelta(hours=1))
    return esc


def publish(bootstrap: str, topic: str, event: dict[str, Any]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, key=event["subject"].encode(), value=envelope.encode(event)).get(10)
    producer.close()


def test_unanswered_r1_gets_mri_warning_then_overdue_reminder(broker: BrokerInfo, followup: Stack) -> None:
    patient = f"fu-{uuid.uuid4().hex[:8]}"
    esc = r1_escalation(followup, patient)
    publish(broker.bootstrap, topics.ESCALATIONS, esc)
    reader = TopicReader(broker.bootstrap, topics.REMINDERS)

    def mine(kind: str) -> Any:
        def match(r: dict[str, Any]) -> bool:
            d = r["data"]
            return r.get("subject") == patient and d["expectation"]["id"] == "F3" and d["kind"] == kind

        return match

    [warning] = reader.wait_for(mine("warning"), timeout=30)
    [overdue] = reader.wait_for(mine("overdue"), timeout=30)
    assert warning["data"]["escalation_id"] == esc["data"]["escalation_id"]
    assert envelope.parse_time(overdue["data"]["due_at"]) - envelope.parse_time(
        warning["data"]["due_at"]
    ) == (timedelta(hours=12))
    reader.settle(2)
    ids = [r["id"] for r in reader.records if r.get("subject") == patient]
    assert len(ids) == len(set(ids)), "a reminder was published twice"
    reader.close()


def test_mri_in_time_means_no_mri_reminder(broker: BrokerInfo, followup: Stack) -> None:
    patient = f"fu-{uuid.uuid4().hex[:8]}"
    publish(broker.bootstrap, topics.ESCALATIONS, r1_escalation(followup, patient))
    time.sleep(1)  # two simulated hours later
    mri = envelope.cloudevent(
        id=f"{patient}-mri",
        type="carepath.imaging.resulted.v1",
        source="urn:test:ris",
        subject=patient,
        time=followup.clock.now(),
        data={
            "modality": "mri",
            "region": "whole_spine",
            "report_status": "final",
            "findings": [{"code": "cord_compression", "certainty": "excluded"}],
        },
    )
    publish(broker.bootstrap, topics.CLINICAL_EVENTS, mri)
    reader = TopicReader(broker.bootstrap, topics.REMINDERS)
    reader.settle(13)  # past the 24 h deadline
    f3 = [r for r in reader.records if r.get("subject") == patient and r["data"]["expectation"]["id"] == "F3"]
    assert f3 == []
    reader.close()
