"""End to end through real processes: events in over HTTP, escalations and reminders out on Kafka.

Timeline (simulated time; the stack's clock runs 3600x, so an hour passes in a real second):
  patient A: breast cancer, then leg weakness          -> R1 emergency; no MRI -> F3 warning at 12 h,
                                                          overdue at 24 h
  patient B: lung cancer, new numbness, MRI at +2 h     -> R1 emergency, then resolved; no F3 reminder
  patient C: 34-year-old, mechanical lumbar pain        -> nothing at all
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from carepath import auth, envelope, topics
from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo
from tests.support.events import post_event
from tests.support.topics import TopicReader, for_patient

pytestmark = pytest.mark.e2e


@dataclass
class Timeline:
    a: str
    b: str
    c: str
    posted: list[dict[str, Any]]
    started: float


def post(
    stack: Stack,
    patient: str,
    etype: str,
    data: dict[str, Any],
    posted: list[dict[str, Any]],
    at: timedelta = timedelta(0),
) -> dict[str, Any]:
    event = post_event(stack, patient, etype, data, len(posted), at)
    posted.append(event)
    return event


@pytest.fixture(scope="module")
def timeline(stack: Stack) -> Timeline:
    run = uuid.uuid4().hex[:6]
    a, b, c = f"e2e-a-{run}", f"e2e-b-{run}", f"e2e-c-{run}"
    posted: list[dict[str, Any]] = []
    post(
        stack,
        a,
        "carepath.diagnosis.recorded.v1",
        {"cancer": {"primary_site": "breast", "status": "active"}, "age_years": 61},
        posted,
    )
    post(
        stack,
        a,
        "carepath.pain.reported.v1",
        {"nrs": 7, "site": ["thoracic"], "neurological": ["limb_weakness", "walking_difficulty"]},
        posted,
    )
    post(
        stack,
        b,
        "carepath.diagnosis.recorded.v1",
        {"cancer": {"primary_site": "lung", "status": "active"}, "age_years": 66},
        posted,
    )
    post(
        stack,
        b,
        "carepath.pain.reported.v1",
        {"nrs": 5, "site": ["lumbar"], "neurological": ["sensory_loss"]},
        posted,
    )
    post(stack, c, "carepath.diagnosis.recorded.v1", {"age_years": 34}, posted)
    post(
        stack,
        c,
        "carepath.pain.reported.v1",
        {"nrs": 4, "site": ["lumbar"], "character": ["mechanical"], "improving": True},
        posted,
    )
    started = time.monotonic()
    # Patient B's MRI two simulated hours later (two real seconds) excludes compression.
    time.sleep(2)
    post(
        stack,
        b,
        "carepath.imaging.resulted.v1",
        {
            "modality": "mri",
            "region": "whole_spine",
            "report_status": "final",
            "findings": [{"code": "cord_compression", "certainty": "excluded"}],
        },
        posted,
    )
    return Timeline(a, b, c, posted, started)


@pytest.fixture
def escalations(broker: BrokerInfo) -> Iterator[TopicReader]:
    reader = TopicReader(broker.bootstrap, topics.ESCALATIONS)
    yield reader
    reader.close()


@pytest.fixture
def reminders(broker: BrokerInfo) -> Iterator[TopicReader]:
    reader = TopicReader(broker.bootstrap, topics.REMINDERS)
    yield reader
    reader.close()


def test_mscc_emergency_is_escalated_within_seconds_with_its_explanation(
    stack: Stack, timeline: Timeline, escalations: TopicReader
) -> None:
    raised = for_patient(timeline.a, "carepath.escalation.raised")
    [esc] = escalations.wait_for(lambda r: raised(r) and r["data"]["rule"]["id"] == "R1", timeout=20)
    d = esc["data"]
    assert d["rule"]["id"] == "R1" and d["severity"] == "emergency"
    pain_id = timeline.posted[1]["id"]
    assert pain_id in {e["event_id"] for e in d["evidence"]}
    assert d["pathway"]["id"] == "carepath-mscc" and d["pathway"]["version"]
    assert d["actions"] and d["deadline"] and d["reason"] and d["source"]
    assert esc["id"] == f"{d['escalation_id']}.r1"


def test_overdue_mri_reminder_follows_at_24_hours_and_a_timely_mri_cancels_it(
    stack: Stack, timeline: Timeline, reminders: TopicReader, escalations: TopicReader
) -> None:
    def f3(patient: str, kind: str) -> Any:
        return lambda r: (
            r.get("subject") == patient
            and r["data"]["expectation"]["id"] == "F3"
            and r["data"]["kind"] == kind
        )

    [warning] = reminders.wait_for(f3(timeline.a, "warning"), timeout=40)
    [overdue] = reminders.wait_for(f3(timeline.a, "overdue"), timeout=40)
    assert warning["type"] == "carepath.reminder.due.v1" and overdue["type"] == "carepath.reminder.overdue.v1"
    due = envelope.parse_time(overdue["data"]["due_at"])
    raised = envelope.parse_time(warning["data"]["due_at"]) - timedelta(hours=12)
    assert due - raised == timedelta(hours=24)
    # Lateness is reported in simulated seconds; a tick of 0.25 real s is 900 simulated s at this scale.
    assert overdue["data"]["lateness_seconds"] < 3600

    escalations.wait_for(for_patient(timeline.b, "carepath.escalation.resolved"), timeout=20)
    remaining = 30 - (time.monotonic() - timeline.started)
    reminders.settle(max(remaining, 1))  # past B's 24 h deadline
    assert not [r for r in reminders.records if f3(timeline.b, "warning")(r) or f3(timeline.b, "overdue")(r)]


def test_benign_mechanical_back_pain_raises_nothing(
    stack: Stack, timeline: Timeline, escalations: TopicReader, reminders: TopicReader
) -> None:
    escalations.wait_for(for_patient(timeline.a), timeout=20)  # the pipeline has processed the feed
    escalations.settle(2)
    assert not [e for e in escalations.records if e.get("subject") == timeline.c]
    assert not [r for r in reminders.records if r.get("subject") == timeline.c]


def test_redelivering_every_event_raises_nothing_new(
    broker: BrokerInfo, stack: Stack, timeline: Timeline, escalations: TopicReader
) -> None:
    """Kafka redelivers after a crash; triage must recognise every event id and publish nothing."""
    escalations.wait_for(for_patient(timeline.b, "carepath.escalation.resolved"), timeout=20)
    ours = {timeline.a, timeline.b, timeline.c}
    escalations.settle(1)
    before = [e["id"] for e in escalations.records if e.get("subject") in ours]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for event in timeline.posted:  # straight onto the topic: past intake's de-duplication
        producer.send(topics.CLINICAL_EVENTS, key=event["subject"].encode(), value=envelope.encode(event))
    producer.flush()
    producer.close()
    escalations.settle(4)
    after = [e["id"] for e in escalations.records if e.get("subject") in ours]
    assert after == before


def test_every_service_exports_its_metrics(
    stack: Stack, timeline: Timeline, escalations: TopicReader
) -> None:
    escalations.wait_for(for_patient(timeline.a), timeout=20)
    text = {name: httpx.get(f"{svc.url}/metrics", timeout=5).text for name, svc in stack.services.items()}
    assert (
        'carepath_intake_events_accepted_total{channel="http",type="carepath.pain.reported.v1"}'
        in text["intake"]
    )
    assert 'carepath_escalations_total{change="raised",rule="R1",severity="emergency"}' in text["triage"]
    assert "carepath_end_to_end_seconds_count" in text["triage"]
    assert (
        'carepath_events_consumed_total{service="triage",type="carepath.pain.reported.v1"}' in text["triage"]
    )
    assert "carepath_consumer_lag{" in text["triage"]
    assert "carepath_expectations_open{" in text["followup"]
    assert "carepath_oldest_unacknowledged_emergency_seconds" in text["followup"]
    for t in text.values():
        assert timeline.a not in t and timeline.b not in t  # never a patient id in a label


def r2_patient(stack: Stack, patient: str, posted: list[dict[str, Any]]) -> None:
    post(
        stack,
        patient,
        "carepath.diagnosis.recorded.v1",
        {"cancer": {"primary_site": "prostate", "status": "active"}, "age_years": 74},
        posted,
    )
    post(
        stack,
        patient,
        "carepath.pain.reported.v1",
        {"nrs": 6, "site": ["thoracic"], "character": ["progressive", "night_pain"]},
        posted,
    )


def test_urgent_and_routine_escalations_end_to_end(stack: Stack, escalations: TopicReader) -> None:
    run = uuid.uuid4().hex[:6]
    urgent, routine = f"e2e-u-{run}", f"e2e-r-{run}"
    posted: list[dict[str, Any]] = []
    r2_patient(stack, urgent, posted)
    post(stack, routine, "carepath.diagnosis.recorded.v1", {"age_years": 57}, posted)
    post(
        stack,
        routine,
        "carepath.pain.reported.v1",
        {"nrs": 5, "site": ["lumbar"], "character": ["mechanical"], "duration_days": 5},
        posted,
    )
    [r2] = escalations.wait_for(
        lambda r: r.get("subject") == urgent and r["data"]["rule"]["id"] == "R2", timeout=20
    )
    assert r2["data"]["severity"] == "urgent"
    [r4] = escalations.wait_for(
        lambda r: r.get("subject") == routine and r["data"]["rule"]["id"] == "R4", timeout=20
    )
    assert r4["data"]["severity"] == "routine"
    assert "50" in " ".join(str(e.get("threshold", "")) for e in r4["data"]["evidence"])


def test_acknowledgement_stops_the_reminder_chain_and_unknown_ids_are_404(
    stack: Stack, escalations: TopicReader, reminders: TopicReader
) -> None:
    """Two patients with the same urgent escalation: one acknowledged at once, one never. A1 (urgent:
    remind at 4 h, then the registrar at 6 h, the consultant at 10 h) climbs only for the second."""
    run = uuid.uuid4().hex[:6]
    acked, ignored = f"e2e-ack-{run}", f"e2e-noack-{run}"
    posted: list[dict[str, Any]] = []
    r2_patient(stack, acked, posted)
    r2_patient(stack, ignored, posted)
    [esc] = escalations.wait_for(
        lambda r: r.get("subject") == acked and r["data"]["rule"]["id"] == "R2", timeout=20
    )
    esc_id = esc["data"]["escalation_id"]
    # a system acknowledging for a named clinician, not the engine
    clinician = auth.bearer(auth.DEV_ACK_TOKEN)
    who = {"id": "staff-e2e-1", "name": "E2E Coordinator", "role": "mscc_coordinator"}
    body = {"patient_id": acked, "target_id": esc_id, "on_behalf_of": who}
    deadline = time.monotonic() + 3  # followup may take a moment to have read the escalation
    while (
        r := httpx.post(f"{stack.intake_url}/v1/acknowledgements", json=body, headers=clinician, timeout=10)
    ).status_code == 404:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
    again = httpx.post(f"{stack.intake_url}/v1/acknowledgements", json=body, headers=clinician, timeout=10)
    assert again.status_code == 202, again.text  # harmless: the chain is already stopped
    unknown = httpx.post(
        f"{stack.intake_url}/v1/acknowledgements",
        json=body | {"target_id": "esc-r2-000000000000000000000000"},
        headers=clinician,
        timeout=10,
    )
    assert unknown.status_code == 404 and "no escalation or reminder" in unknown.text

    def a1(patient: str) -> Any:
        return lambda r: r.get("subject") == patient and r["data"]["expectation"]["id"] == "A1"

    # The promise: once followup has recorded the acknowledgement, the chain stops. On a busy machine the
    # acknowledgement can reach followup after the first reminder's deadline (4 simulated hours are 4 real
    # seconds here): that reminder was due and is sent, as it would be in a hospital. So wait until
    # followup no longer lists A1 open for the patient, and check that nothing of the chain follows.
    worklist = f"{stack.services['followup'].url}/v1/patients/{acked}/worklist"
    reader = auth.bearer(auth.DEV_READ_TOKEN)
    deadline = time.monotonic() + 30
    while any(
        e["rule"] == "A1" for e in httpx.get(worklist, headers=reader, timeout=10).json()["expectations"]
    ):
        assert time.monotonic() < deadline, "followup never recorded the acknowledgement"
        time.sleep(0.1)
    # Everything the acknowledged chain published up to now, the topic read to its current end (at 3600x a
    # busy machine lets the chain climb before followup records the acknowledgement; one poll may not
    # have caught up with it, and earlier reminders would then look like later ones).
    reminders.catch_up()
    sent_before = [r for r in reminders.records if a1(acked)(r) and r["data"].get("escalation_id") == esc_id]
    climbed = reminders.wait_for(a1(ignored), count=3, timeout=30)
    assert sorted(r["data"]["level"] for r in climbed) == [1, 2, 3]
    after = [r for r in reminders.records if a1(acked)(r) and r["data"].get("escalation_id") == esc_id]
    assert after == sent_before, [r["data"]["level"] for r in after]


def _keyed_records(
    bootstrap: str, topic: str, keys: set[bytes], enough: Callable[[list[Any]], bool], timeout: float = 40
) -> list[Any]:
    """The records of ``topic`` keyed by one of ``keys``, read from the beginning until ``enough``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        while not enough(found):
            assert time.monotonic() < deadline, f"{topic}: {len(found)} records of ours after {timeout:.0f} s"
            for batch in consumer.poll(timeout_ms=200).values():
                found += [m for m in batch if m.key in keys]
        return found
    finally:
        consumer.close()


def test_every_record_carries_the_content_type_header_of_its_topic(broker: BrokerInfo, stack: Stack) -> None:
    """The CloudEvents Kafka protocol binding, structured mode: every CloudEvent carepath publishes (intake's
    events and acknowledgements, triage's escalations, followup's reminders and audit trail) has
    ``content-type: application/cloudevents+json; charset=UTF-8``; dead letters, plain JSON, say so."""
    run = uuid.uuid4().hex[:6]
    patient, poison = f"e2e-ct-{run}", f"e2e-poison-{run}"
    posted: list[dict[str, Any]] = []
    post(
        stack,
        patient,
        "carepath.diagnosis.recorded.v1",
        {"cancer": {"primary_site": "breast", "status": "active"}},
        posted,
    )
    post(
        stack,
        patient,
        "carepath.pain.reported.v1",
        {"nrs": 7, "site": ["thoracic"], "neurological": ["limb_weakness"]},
        posted,
    )
    refused = envelope.cloudevent(
        id=f"{patient}-refused",
        type="carepath.pain.reported.v1",
        source="urn:test:epr",
        subject=patient,
        time=stack.clock.now(),
        data={"nrs": 14},
    )
    bad = httpx.post(
        f"{stack.intake_url}/v1/events", json=refused, headers=auth.bearer(stack.token), timeout=15
    )
    assert bad.status_code == 422, bad.text  # dead-lettered by intake
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(
        topics.CLINICAL_EVENTS, key=poison.encode(), value=b"\xff not an event"
    )  # for triage and followup
    producer.flush()
    producer.close()
    escalation, *_ = _keyed_records(broker.bootstrap, topics.ESCALATIONS, {patient.encode()}, bool)
    body = {"patient_id": patient, "target_id": orjson.loads(escalation.value)["data"]["escalation_id"]}
    clinician = auth.bearer(auth.DEV_ACK_TOKEN)
    deadline = time.monotonic() + 10  # followup may take a moment to have read the escalation
    while (
        r := httpx.post(
            f"{stack.intake_url}/v1/acknowledgements",
            json=body | {"on_behalf_of": {"id": "staff-e2e-2", "role": "acute_oncology"}},
            headers=clinician,
        )
    ).status_code == 404:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    assert r.status_code == 202, r.text

    ours = {patient.encode()}
    written = {
        topics.CLINICAL_EVENTS: _keyed_records(
            broker.bootstrap, topics.CLINICAL_EVENTS, ours, lambda f: len(f) >= 2
        ),
        topics.ACKNOWLEDGEMENTS: _keyed_records(broker.bootstrap, topics.ACKNOWLEDGEMENTS, ours, bool),
        topics.ESCALATIONS: [escalation],
        topics.REMINDERS: _keyed_records(broker.bootstrap, topics.REMINDERS, ours, bool),
        topics.AUDIT: _keyed_records(broker.bootstrap, topics.AUDIT, ours, bool),
        # intake's refusal, and the poison record dead-lettered by triage and by followup
        topics.CLINICAL_EVENTS_DLQ: _keyed_records(
            broker.bootstrap, topics.CLINICAL_EVENTS_DLQ, ours | {poison.encode()}, lambda f: len(f) >= 3
        ),
    }
    reasons = [str(orjson.loads(m.value)["reason"]) for m in written[topics.CLINICAL_EVENTS_DLQ]]
    assert any(r.startswith("triage could not") for r in reasons), reasons
    assert any(r.startswith("followup could not") for r in reasons), reasons
    for topic, records in written.items():
        for message in records:
            wanted = topics.headers(topic)
            content = [(k, v) for k, v in message.headers if k == topics.CONTENT_TYPE]
            assert content == list(wanted), (topic, message.headers)
            # and, on what intake wrote, the name of the credential that sent it (nothing else)
            others = dict((k, v) for k, v in message.headers if k != topics.CONTENT_TYPE)
            assert set(others) <= {"carepath-sender"}, (topic, message.headers)
            if topic in (topics.CLINICAL_EVENTS, topics.ACKNOWLEDGEMENTS):
                assert others["carepath-sender"] in (b"engine-1", b"ack-system-1"), (topic, others)
            document = orjson.loads(message.value)
            if wanted[0][1].startswith(b"application/cloudevents+json"):
                assert document["specversion"] == "1.0" and document["subject"] == patient, topic
