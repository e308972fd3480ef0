"""The notifier as a real process on a real broker, delivering to real HTTP endpoints on 127.0.0.1.

Escalations are published straight to care.escalations (as triage would); the endpoints are small
threaded HTTP servers that record what they receive and verify every request with the Standard Webhooks
reference library, as a hospital's receiver would (a request that fails verification is answered 401,
which the notifier does not retry). A fresh consumer group per notifier process means
it also reads what other tests left on the topic, so every check is scoped to this test's patients.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from kafka import KafkaProducer

from carepath import envelope, topics
from carepath.clock import SystemClock
from carepath.resources import schemas_dir
from carepath_tools.broker import free_port
from carepath_tools.devstack import Service
from notifier.dead_letters import TOPIC as NOTIFICATIONS_DLQ
from tests.conftest import BrokerInfo
from tests.support.topics import TopicReader
from tests.support.webhook import Receiver, for_subject

pytestmark = pytest.mark.integration

KEY = b"integration-secret-integration-01"  # 33 bytes; endpoints hold it as the specification shows it:
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the-secret-being-rotated-out-0001").decode()


def escalation(patient: str, severity: str = "emergency", rule: str = "R1") -> dict[str, Any]:
    path = Path(schemas_dir(), "examples", "carepath.escalation.raised.v1", "valid", "r1-mscc-suspected.json")
    esc = copy.deepcopy(json.loads(path.read_text()))
    now = SystemClock().now()
    esc_id = f"esc-{uuid.uuid4().hex[:16]}"
    esc.update(id=f"{esc_id}.r1", subject=patient, time=envelope.iso(now))
    d = esc["data"]
    d.update(escalation_id=esc_id, severity=severity, raised_at=envelope.iso(now))
    d["rule"]["id"] = rule
    d["deadline"] = envelope.iso(now + timedelta(hours=1))
    for a in d["actions"]:
        a["deadline"] = envelope.iso(now + timedelta(hours=1))
    return esc


def publish(bootstrap: str, *events: dict[str, Any]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for event in events:
        producer.send(topics.ESCALATIONS, key=event["subject"].encode(), value=envelope.encode(event)).get(10)
    producer.close()


def write_config(path: Path, endpoints: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"endpoints": endpoints}))  # JSON is YAML
    return path


def start_notifier(
    broker: BrokerInfo,
    config: Path,
    log_dir: Path,
    group: str,
    name: str = "notifier",
    extra: dict[str, str] | None = None,
) -> Service:
    """A notifier process on the session's broker; ``extra``: more environment (an endpoint's secrets)."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CAREPATH_BROKER_PROFILE": broker.profile,
        "CAREPATH_ENVIRONMENT": "test",
        "CAREPATH_BIND_HOST": "127.0.0.1",
        topics.PARTITIONS_VARIABLE: str(topics.partitions()),  # what the session's broker was given
        "CAREPATH_NOTIFIER_CONFIG": str(config),
        "CAREPATH_NOTIFIER_PORT": str(port),
        "CAREPATH_NOTIFIER_GROUP_ID": group,
        "NOTIFIER_TEST_SECRET": SECRET,
        "NOTIFIER_TEST_OLD_SECRET": OLD_SECRET,
        "PYTHONUNBUFFERED": "1",
    } | (extra or {})
    svc = Service(name, "notifier", port, env, log_dir / f"{name}.log")
    svc.start()
    svc.wait_ready(90)
    return svc


def endpoint(name: str, url: str, receive: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "secret_env": "NOTIFIER_TEST_SECRET", "receive": receive, **extra}


class Endpoints:
    def __init__(self) -> None:
        self.flaky = Receiver(fail_first=2, secret=SECRET).start()
        self.fast = Receiver(secret=OLD_SECRET).start()  # its secret is being rotated: it holds the old one
        self.slow = Receiver(delay_s=1.5, secret=SECRET).start()
        self.fhir = Receiver(secret=SECRET).start()
        other = "whsec_" + base64.b64encode(b"not-the-secret-the-notifier-holds").decode()
        self.mismatched = Receiver(secret=other).start()

    def stop(self) -> None:
        for r in (self.flaky, self.fast, self.slow, self.fhir, self.mismatched):
            r.stop()


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Endpoints]:
    e = Endpoints()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def notifier(
    broker: BrokerInfo, endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    log_dir = tmp_path_factory.mktemp("notifier")
    fast_retry = {"attempts": 5, "base_s": 0.2, "cap_s": 1.0}
    config = write_config(
        log_dir / "endpoints.yaml",
        [
            endpoint(
                "flaky",
                endpoints.flaky.url,
                {"escalations": {"severities": ["emergency"]}},
                retry=fast_retry,
                legacy_signature=True,  # carepath's earlier headers as well, for a receiver that checks them
            ),
            endpoint(
                "fast",
                endpoints.fast.url,
                {"escalations": {"severities": ["urgent"]}},
                previous_secret_env="NOTIFIER_TEST_OLD_SECRET",
            ),
            endpoint(
                "slow",
                endpoints.slow.url,
                {"escalations": {"severities": ["urgent"]}},
                concurrency=1,
                timeout_s=10,
            ),
            endpoint("fhir-server", endpoints.fhir.url, {"escalations": {"rules": ["R6A"]}}, format="fhir"),
            endpoint("mismatched", endpoints.mismatched.url, {"escalations": {"rules": ["R8"]}}),
            endpoint(
                "down",
                f"http://127.0.0.1:{free_port()}/nobody-listens",
                {"escalations": {"rules": ["R9"]}},
                retry={"attempts": 2, "base_s": 0.1, "cap_s": 0.2},
            ),
        ],
    )
    svc = start_notifier(broker, config, log_dir, f"notifier-{uuid.uuid4().hex[:6]}")
    yield svc
    svc.stop()


def patient() -> str:
    return f"nt-{uuid.uuid4().hex[:10]}"


def test_an_endpoint_failing_twice_gets_the_escalation_exactly_once(
    broker: BrokerInfo, notifier: Service, endpoints: Endpoints
) -> None:
    p = patient()
    esc = escalation(p)
    publish(broker.bootstrap, esc)
    [delivered] = endpoints.flaky.wait_for(for_subject(p), timeout=30)
    time.sleep(2)  # nothing more arrives
    attempts = endpoints.flaky.matching(for_subject(p))
    assert [r.status for r in attempts] == [503, 503, 200]
    assert {r.key for r in attempts} == {esc["id"]}  # the idempotency key is the CloudEvent id, every time
    assert {r.headers["webhook-id"] for r in attempts} == {esc["id"]}  # what a receiver de-duplicates on
    assert [r.headers["x-carepath-delivery-attempt"] for r in attempts] == ["1", "2", "3"]
    assert all(r.verified for r in attempts)  # by the Standard Webhooks library
    for r in attempts:  # and the earlier headers, which this endpoint asked for, as its receiver checks them
        timestamp = r.headers["x-carepath-timestamp"]
        assert timestamp == r.headers["webhook-timestamp"]
        expected = hmac.new(KEY, timestamp.encode() + b"." + r.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(r.headers["x-carepath-signature"], f"sha256={expected}")
    assert delivered.json() == esc
    assert delivered.headers["content-type"].startswith("application/cloudevents+json")
    assert endpoints.fast.matching(for_subject(p)) == []  # an emergency is not routed to the urgent endpoints


def test_a_redelivered_escalation_is_not_delivered_again(
    broker: BrokerInfo, notifier: Service, endpoints: Endpoints
) -> None:
    p = patient()
    esc = escalation(p)
    publish(broker.bootstrap, esc)
    endpoints.flaky.wait_for(for_subject(p), timeout=30)
    publish(broker.bootstrap, esc)  # as after a producer retry or a consumer crash
    time.sleep(3)
    assert len(endpoints.flaky.delivered(for_subject(p))) == 1


def test_a_slow_endpoint_does_not_hold_up_another(
    broker: BrokerInfo, notifier: Service, endpoints: Endpoints
) -> None:
    p = patient()
    batch = [escalation(p, severity="urgent") for _ in range(4)]
    publish(broker.bootstrap, *batch)
    fast = endpoints.fast.wait_for(for_subject(p), count=4, timeout=30)
    slow_so_far = endpoints.slow.delivered(for_subject(p))
    assert len(slow_so_far) < 4, "the slow endpoint kept up: the test shows nothing"
    assert {r.key for r in fast} == {r.headers["webhook-id"] for r in fast} == {e["id"] for e in batch}
    assert all(r.verified and "x-carepath-signature" not in r.headers for r in fast)  # by the old secret
    assert all(len(r.headers["webhook-signature"].split(" ")) == 2 for r in fast)  # the new one's too
    endpoints.slow.wait_for(for_subject(p), count=4, timeout=30)  # and it gets there in the end


def test_a_fhir_endpoint_receives_a_valid_transaction_bundle(
    broker: BrokerInfo, notifier: Service, endpoints: Endpoints
) -> None:
    p = patient()
    esc = escalation(p, severity="urgent", rule="R6A")
    publish(broker.bootstrap, esc)
    [delivered] = endpoints.fhir.wait_for(for_subject(p), timeout=30)
    assert delivered.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(delivered.json())
    types = [e.resource.get_resource_type() for e in bundle.entry]
    assert types[:3] == ["DetectedIssue", "Flag", "CommunicationRequest"] and "Task" in types
    assert delivered.key == delivered.headers["webhook-id"] == esc["id"]
    assert delivered.verified  # a FHIR delivery is signed the same way


def test_a_receiver_holding_another_secret_refuses_the_request_and_it_is_dead_lettered_at_once(
    broker: BrokerInfo, notifier: Service, endpoints: Endpoints
) -> None:
    p = patient()
    esc = escalation(p, severity="urgent", rule="R8")
    reader = TopicReader(broker.bootstrap, NOTIFICATIONS_DLQ)
    publish(broker.bootstrap, esc)
    [letter] = reader.wait_for(lambda r: r.get("event_id") == esc["id"], timeout=30)
    reader.close()
    [refused] = endpoints.mismatched.matching(for_subject(p))
    assert refused.verified is False and refused.status == 401
    assert letter["endpoint"] == "mismatched" and letter["attempts"] == 1
    assert letter["last_error"].startswith("HTTP 401")


def test_after_the_retry_budget_a_dead_letter_names_endpoint_event_attempts_and_error(
    broker: BrokerInfo, notifier: Service
) -> None:
    p = patient()
    esc = escalation(p, severity="routine", rule="R9")
    reader = TopicReader(broker.bootstrap, NOTIFICATIONS_DLQ)
    publish(broker.bootstrap, esc)
    [letter] = reader.wait_for(lambda r: r.get("event_id") == esc["id"], timeout=30)
    reader.close()
    assert letter["endpoint"] == "down" and letter["attempts"] == 2
    assert "ConnectError" in letter["last_error"] and letter["event"] == esc
    assert any(k == p.encode() for k, v in reader.raw if esc["id"].encode() in v)
    [headers] = [h for (_, v), h in zip(reader.raw, reader.headers, strict=True) if esc["id"].encode() in v]
    assert headers == [("content-type", b"application/json; charset=UTF-8")]  # a plain JSON record, said so


def test_metrics_count_per_endpoint_without_patient_ids(notifier: Service, endpoints: Endpoints) -> None:
    text = httpx.get(f"{notifier.url}/metrics", timeout=5).text
    assert 'carepath_notifier_deliveries_total{endpoint="flaky",outcome="delivered"}' in text
    assert 'carepath_notifier_attempts_total{endpoint="flaky",result="http_5xx"}' in text
    assert 'carepath_notifier_delivery_seconds_bucket{endpoint="flaky"' in text
    assert "carepath_notifier_dead_letters_total" in text and "carepath_consumer_lag{" in text
    assert "nt-" not in text


def test_a_crash_loses_no_pending_delivery_and_repeats_no_finished_one(
    broker: BrokerInfo, tmp_path: Path
) -> None:
    """SIGKILL while one notification is being retried and after another was delivered; restart."""
    receiver = Receiver(fail_first=10_000, secret=SECRET).start()  # refuses everything until the restart
    group = f"notifier-crash-{uuid.uuid4().hex[:6]}"
    config = write_config(
        tmp_path / "endpoints.yaml",
        [
            endpoint(
                "ward", receiver.url, {"escalations": {}}, retry={"attempts": 50, "base_s": 0.2, "cap_s": 0.5}
            )
        ],
    )
    done_patient, pending_patient = patient(), patient()
    done, pending = escalation(done_patient), escalation(pending_patient)
    svc = start_notifier(broker, config, tmp_path, group)
    try:
        receiver.fail_first = 0
        publish(broker.bootstrap, done)
        receiver.wait_for(for_subject(done_patient), timeout=30)
        receiver.fail_first = 10_000
        publish(broker.bootstrap, pending)
        deadline = time.monotonic() + 30
        while len(receiver.matching(for_subject(pending_patient))) < 2:
            assert time.monotonic() < deadline, "the pending notification was never attempted"
            time.sleep(0.1)
        time.sleep(1)  # the changelog holds the attempts
        svc.kill()
        receiver.fail_first = 0
        svc = start_notifier(broker, config, tmp_path, group, name="notifier-restarted")
        receiver.wait_for(for_subject(pending_patient), timeout=45)
        publish(broker.bootstrap, done)  # the finished one, redelivered by the broker
        time.sleep(3)
        assert len(receiver.delivered(for_subject(pending_patient))) == 1
        assert len(receiver.delivered(for_subject(done_patient))) == 1
        assert all(r.verified for r in receiver)
    finally:
        svc.stop()
        receiver.stop()
