"""A worker that takes over a partition reads what was already on its inputs before it fires deadlines.

The MSCC coordinator is contacted (a care step on clinical.events) before F1's 1-hour deadline, while
the only followup worker is down; a backlog of other patients' events sits before that care step on the
same partition. The restarted worker recovers F1 from the table with its deadline passed. Firing it at
once would send an overdue reminder that a running pipeline never sends (the answer was on the topic in
time); it must read the backlog first, find F1 met, and stay silent, while A1 (never acknowledged) fires.

Real processes on a real broker, the clock at 600x (F1 is 6 real seconds away, A1 1.5 s).
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaProducer

from carepath import auth, envelope, topics
from carepath_tools.bench.workload import CARE_STEP, benign
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo
from tests.integration.test_followup_worker import r1_escalation
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration

SCALE = 600.0
BACKLOG = 4000
READER = auth.bearer(auth.DEV_READ_TOKEN)


def partition(key: str) -> int:
    n = topics.partitions()
    return int(DefaultPartitioner()(key.encode(), list(range(n)), list(range(n))))


def start(stack: Stack, name: str) -> Service:
    svc = stack.add(name, "followup", "CAREPATH_FOLLOWUP_PORT")
    svc.start()
    svc.wait_ready(90)
    return svc


def test_deadlines_answered_by_the_backlog_do_not_fire_after_a_takeover(
    broker: BrokerInfo, tmp_path: Path
) -> None:
    stack = Stack(
        log_dir=tmp_path,
        time_scale=SCALE,
        bootstrap=broker.bootstrap,
        profile=broker.profile,
        extra_env={"CAREPATH_FOLLOWUP_GROUP_ID": f"fu-catch-up-{uuid.uuid4().hex[:6]}"},
    )
    stack.start_broker()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    reader = TopicReader(broker.bootstrap, topics.REMINDERS)
    try:
        worker = start(stack, "followup-1")
        run = uuid.uuid4().hex[:6]
        patient = f"cu-{run}"
        esc = r1_escalation(stack, patient)
        anchor = envelope.parse_time(esc["data"]["raised_at"])
        producer.send(topics.ESCALATIONS, key=patient.encode(), value=envelope.encode(esc)).get(10)
        deadline = time.monotonic() + 20
        while True:  # F1 opened and written
            r = httpx.get(f"{worker.url}/v1/patients/{patient}/worklist", headers=READER, timeout=5)
            if r.status_code == 200 and r.json().get("escalations"):
                break
            assert time.monotonic() < deadline, "the escalation was not taken up"
            time.sleep(0.1)
        time.sleep(0.5)  # in the changelog
        worker.kill()

        # While no worker runs: other patients' events on the same partition, then the care step that
        # meets F1, at 10 minutes past its clock start (its deadline is at 1 hour).
        rng = random.Random(5)
        others = (f"cu-{run}-{i}" for i in range(10**9))
        same = (p for p in others if partition(p) == partition(patient))
        now = stack.clock.now()
        for _ in range(BACKLOG):
            other = next(same)
            event = benign(other, now, rng)
            producer.send(topics.CLINICAL_EVENTS, key=other.encode(), value=envelope.encode(event))
        contacted = envelope.cloudevent(
            id=f"{patient}-contacted",
            type=CARE_STEP,
            source="urn:test:epr",
            subject=patient,
            time=anchor + timedelta(minutes=10),
            data={"step": "mscc_coordinator_contacted", "role": "acute oncology"},
        )
        producer.send(topics.CLINICAL_EVENTS, key=patient.encode(), value=envelope.encode(contacted)).get(10)
        producer.flush()
        due_real = (timedelta(hours=1) - (stack.clock.now() - anchor)).total_seconds() / SCALE
        time.sleep(max(due_real, 0) + 1.0)  # F1's deadline has passed while nobody was reading

        start(stack, "followup-1-restarted")

        def mine(rule: str) -> list[dict[str, object]]:
            return [
                r
                for r in reader.records
                if r.get("subject") == patient and r["data"]["expectation"]["id"] == rule  # type: ignore[index]
            ]

        reader.wait_for(
            lambda r: r.get("subject") == patient and r["data"]["expectation"]["id"] == "A1", timeout=60
        )
        reader.settle(3)
        assert mine("A1"), "A1 (never acknowledged) fired"
        assert mine("F1") == [], "F1 fired although the care step meeting it was on the topic in time"
    finally:
        producer.close()
        reader.close()
        stack.stop()
