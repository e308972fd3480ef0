"""A triage worker as a real process on a real broker: shadow mode, and bad records never stop it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from carepath import envelope, topics
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shadow_triage(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    stack = Stack(
        log_dir=Path(tmp_path_factory.mktemp("triage")), bootstrap=broker.bootstrap, profile=broker.profile
    )
    stack.start_broker()
    svc = stack.add(
        "triage",
        "triage",
        "CAREPATH_TRIAGE_PORT",
        {
            "CAREPATH_TRIAGE_SHADOW_MODE": "true",
            "CAREPATH_TRIAGE_GROUP_ID": f"triage-shadow-{uuid.uuid4().hex[:6]}",
        },
    )
    svc.start()
    svc.wait_ready(60)
    yield svc
    stack.stop()


def send(bootstrap: str, key: bytes, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topics.CLINICAL_EVENTS, key=key, value=value).get(10)
    producer.close()


def mscc_events(patient: str) -> list[dict[str, object]]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return [
        envelope.cloudevent(
            id=f"{patient}-dx",
            type="carepath.diagnosis.recorded.v1",
            source="urn:test",
            subject=patient,
            time=now,
            data={"cancer": {"primary_site": "lung", "status": "active"}},
        ),
        envelope.cloudevent(
            id=f"{patient}-pain",
            type="carepath.pain.reported.v1",
            source="urn:test",
            subject=patient,
            time=now,
            data={"nrs": 6, "site": ["lumbar"], "neurological": ["walking_difficulty"]},
        ),
    ]


def test_shadow_mode_publishes_only_to_the_shadow_topic(broker: BrokerInfo, shadow_triage: Service) -> None:
    patient = f"shadow-{uuid.uuid4().hex[:8]}"
    for e in mscc_events(patient):
        send(broker.bootstrap, patient.encode(), envelope.encode(e))
    shadow = TopicReader(broker.bootstrap, topics.ESCALATIONS_SHADOW)
    [esc] = shadow.wait_for(
        lambda r: r.get("subject") == patient and r["data"]["rule"]["id"] == "R1", timeout=20
    )
    assert esc["data"]["severity"] == "emergency"
    live = TopicReader(broker.bootstrap, topics.ESCALATIONS)
    live.settle(1)
    assert [r for r in live.records if r.get("subject") == patient] == []
    shadow.close()
    live.close()


def test_a_record_that_cannot_be_read_is_dead_lettered_and_the_partition_moves_on(
    broker: BrokerInfo, shadow_triage: Service
) -> None:
    patient = f"poison-{uuid.uuid4().hex[:8]}"
    send(broker.bootstrap, patient.encode(), b"\x00 not json at all")
    send(broker.bootstrap, patient.encode(), envelope.encode({"specversion": "1.0", "subject": patient}))
    for e in mscc_events(patient):  # after the bad records, on the same partition
        send(broker.bootstrap, patient.encode(), envelope.encode(e))
    shadow = TopicReader(broker.bootstrap, topics.ESCALATIONS_SHADOW)
    shadow.wait_for(lambda r: r.get("subject") == patient, timeout=20)
    dlq = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_DLQ)
    letters = dlq.wait_for(lambda d: d.get("channel") == "stream" and patient in d.get("raw", ""), timeout=20)
    assert letters and "triage could not process" in letters[0]["reason"]
    assert shadow_triage.running()
    metrics = httpx.get(f"{shadow_triage.url}/metrics", timeout=5).text
    assert 'carepath_triage_processing_failures_total{reason="undecodable"}' in metrics
    shadow.close()
    dlq.close()
