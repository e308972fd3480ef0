"""intake as a real process on a real broker: what a sender is told matches what the broker holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carepath import topics
from carepath_tools.broker import EmbeddedBroker
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


def start_intake(bootstrap: str, profile: str, log_dir: Path, **extra: str) -> Service:
    from carepath_tools.broker import free_port

    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CAREPATH_BROKER_PROFILE": profile,
        "CAREPATH_ENVIRONMENT": "test",
        "CAREPATH_INTAKE_TOKENS": DEV_TOKEN,
        "CAREPATH_INTAKE_PORT": str(port),
        "CAREPATH_INTAKE_MLLP_PORT": "0",  # HTTP only here; MLLP has its own tests
        **extra,
    }
    svc = Service("intake", "intake", port, env, log_dir / "intake.log")
    svc.start()
    svc.wait_ready(30)
    return svc


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_intake(broker.bootstrap, broker.profile, tmp_path_factory.mktemp("intake"))
    yield svc
    svc.stop()


def event(event_id: str, patient: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:epr",
        "type": "carepath.pain.reported.v1",
        "subject": patient,
        "time": datetime.now(UTC).isoformat(),
        "data": {"nrs": 6, "site": ["lumbar"], **data},
    }


def test_accepted_event_is_on_the_topic_keyed_by_patient(broker: BrokerInfo, intake: Service) -> None:
    patient = f"int-{time.time_ns()}"
    r = httpx.post(f"{intake.url}/v1/events", json=event("a-1", patient), headers=AUTH, timeout=15)
    assert r.status_code == 202, r.text
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    [rec] = reader.wait_for(lambda e: e.get("subject") == patient)
    assert rec["id"] == "a-1"
    assert {k for k, v in reader.raw if patient.encode() in v} == {patient.encode()}
    reader.close()


def test_invalid_event_is_dead_lettered_with_the_reason(broker: BrokerInfo, intake: Service) -> None:
    patient = f"int-{time.time_ns()}"
    r = httpx.post(f"{intake.url}/v1/events", json=event("bad-1", patient, nrs=14), headers=AUTH, timeout=15)
    assert r.status_code == 422 and r.json()["field"] == "/data/nrs"
    dlq = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_DLQ)
    [letter] = dlq.wait_for(lambda d: d.get("event_id") == "bad-1" and patient in d.get("raw", ""))
    assert "/data/nrs" in letter["reason"]
    dlq.close()
    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    events.settle(0.5)
    assert not [e for e in events.records if e.get("subject") == patient]
    events.close()


def test_resubmission_is_not_republished(broker: BrokerInfo, intake: Service) -> None:
    patient = f"int-{time.time_ns()}"
    body = event("dup-1", patient)
    for _ in range(3):
        assert httpx.post(f"{intake.url}/v1/events", json=body, headers=AUTH, timeout=15).status_code == 202
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    reader.wait_for(lambda e: e.get("subject") == patient)
    reader.settle(0.5)
    assert len([e for e in reader.records if e.get("subject") == patient]) == 1
    reader.close()


def test_broker_down_means_503_and_nothing_accepted(tmp_path: Path) -> None:
    """With the broker stopped, intake must never answer 2xx: the sender keeps the event and retries."""
    own = EmbeddedBroker().start()
    svc: Service | None = None
    try:
        svc = start_intake(own.bootstrap, "embedded", tmp_path, CAREPATH_INTAKE_PUBLISH_TIMEOUT_S="2")
        ok = httpx.post(f"{svc.url}/v1/events", json=event("up-1", "p-up"), headers=AUTH, timeout=15)
        assert ok.status_code == 202
        own.stop()
        down = httpx.post(f"{svc.url}/v1/events", json=event("down-1", "p-down"), headers=AUTH, timeout=30)
        assert down.status_code == 503, down.text
        ready = httpx.get(f"{svc.url}/readyz", timeout=15)
        assert ready.status_code == 503
        metrics = httpx.get(f"{svc.url}/metrics", timeout=5).text
        assert 'carepath_intake_events_rejected_total{channel="http",reason="broker_unavailable"}' in metrics
        assert "carepath_intake_broker_up 0.0" in metrics
    finally:
        if svc is not None:
            svc.stop()
        own.stop()
