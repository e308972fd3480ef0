"""A triage worker's tables on disk (RocksDB), as a real process on a real broker.

Killed and restarted, it keeps its databases (checked against the changelog first) and every patient's
state: events sent again are duplicates, not new escalations. A database that was not made from the
changelog the broker holds is removed and rebuilt, never trusted: the same events then raise their
escalations again under that worker."""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from carepath import envelope, topics
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo
from tests.integration.test_triage_worker import mscc_events
from tests.support.service_logs import log_events
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration


@pytest.fixture()
def stack(broker: BrokerInfo, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(log_dir=tmp_path, bootstrap=broker.bootstrap, profile=broker.profile)
    s.start_broker()
    yield s
    s.stop()


def _triage(stack: Stack, name: str, state_dir: Path, group: str) -> Service:
    svc = stack.add(
        name,
        "triage",
        "CAREPATH_TRIAGE_PORT",
        {
            "CAREPATH_TABLE_STORE": "rocksdb",
            "CAREPATH_STATE_DIR": str(state_dir),
            "CAREPATH_TRIAGE_SHADOW_MODE": "true",  # this worker's escalations on a topic of their own
            "CAREPATH_TRIAGE_GROUP_ID": group,
        },
    )
    svc.start()
    svc.wait_ready(90)
    return svc


def _start_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit ``group``'s offsets at the end of ``topic``: its worker reads what a test sends from now on,
    not the backlog earlier tests left on the shared broker (a new group starts at the earliest offset)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert tps, f"no partitions for {topic}"
        end = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(end[tp], "", -1) for tp in tps})
        committed = {tp: consumer.committed(tp) for tp in tps}
        assert committed == end, f"{group}'s offsets were not committed at the end of {topic}"
    finally:
        consumer.close()


def _send(bootstrap: str, patient: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for e in mscc_events(patient):
        producer.send(topics.CLINICAL_EVENTS, key=patient.encode(), value=envelope.encode(e)).get(10)
    producer.close()


def _r1_count(bootstrap: str, patient: str, expect: int) -> int:
    """R1 escalations for ``patient`` on the shadow topic once ``expect`` have arrived and 2 s more passed."""
    reader = TopicReader(bootstrap, topics.ESCALATIONS_SHADOW)
    try:
        reader.wait_for(
            lambda r: r.get("subject") == patient and r["data"]["rule"]["id"] == "R1",
            count=expect,
            timeout=45,
        )
        reader.settle(2)
        return sum(
            1 for r in reader.records if r.get("subject") == patient and r["data"]["rule"]["id"] == "R1"
        )
    finally:
        reader.close()


def _duplicates(svc: Service) -> float:
    text = httpx.get(f"{svc.url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("carepath_triage_duplicates_suppressed_total "):
            return float(line.split()[1])
    return 0.0


def test_killed_and_restarted_it_keeps_its_databases_and_every_patients_state(
    broker: BrokerInfo, stack: Stack, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    group = f"triage-disk-{uuid.uuid4().hex[:6]}"
    svc = _triage(stack, "triage", state_dir, group)
    patients = [f"disk-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for p in patients:
        _send(broker.bootstrap, p)
    assert [_r1_count(broker.bootstrap, p, 1) for p in patients] == [1, 1, 1]
    assert sorted(state_dir.glob("triage-patient-state-*.db")), "no table database on disk"

    svc.kill()
    svc.start()  # same port, same state directory
    svc.wait_ready(90)
    kept = [e for e in log_events(svc) if e.get("event") == "table partition kept"]
    removed = [e for e in log_events(svc) if str(e.get("event", "")).startswith("table partition removed")]
    assert kept and not removed

    for p in patients:
        _send(broker.bootstrap, p)
    reader = TopicReader(broker.bootstrap, topics.ESCALATIONS_SHADOW)
    reader.settle(3)
    counts = [sum(1 for r in reader.records if r.get("subject") == p) for p in patients]
    reader.close()
    assert counts == [1, 1, 1], (
        "a patient's state was lost across the restart: its escalation was raised again"
    )
    assert _duplicates(svc) >= 2 * len(patients)


def test_a_database_not_made_from_this_changelog_is_removed_and_rebuilt(
    broker: BrokerInfo, stack: Stack, tmp_path: Path
) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first = _triage(stack, "triage-a", first_dir, f"triage-disk-{uuid.uuid4().hex[:6]}")
    patient = f"disk-{uuid.uuid4().hex[:8]}"
    _send(broker.bootstrap, patient)
    assert _r1_count(broker.bootstrap, patient, 1) == 1
    first.stop()

    # A worker of another group (its own changelog) given the first one's databases: as after a topic was
    # recreated, or a volume was moved to another cluster.
    shutil.copytree(first_dir, second_dir)
    second = _triage(stack, "triage-b", second_dir, f"triage-disk-{uuid.uuid4().hex[:6]}")
    removed = [e for e in log_events(second) if str(e.get("event", "")).startswith("table partition removed")]
    assert removed, "a database from another changelog was kept"
    assert {e["reason"] for e in removed} <= {
        "changelog has no record at its offset",
        "differs from the changelog at its offset",
    }
    assert all(str(patient) not in orjson.dumps(e).decode() for e in log_events(second))

    # Its state is what its own changelog holds (nothing yet): reading the patient's events (its group starts
    # at the beginning of the topic) it raises R1 again, where the first worker's state would call them
    # duplicates.
    assert _r1_count(broker.bootstrap, patient, 2) == 2


def _partitions_by_key(bootstrap: str, topic: str, keys: set[bytes]) -> dict[bytes, set[int]]:
    """The partitions ``keys``' records are in on ``topic``, read from the start to the current end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert tps, f"no partitions for {topic}"
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        found: dict[bytes, set[int]] = {}
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"{topic} not read to its end in 30 s"
            for batch in consumer.poll(timeout_ms=200).values():
                for msg in batch:
                    if msg.key in keys:
                        found.setdefault(msg.key, set()).add(msg.partition)
        return found
    finally:
        consumer.close()


def test_each_patients_state_is_kept_in_the_partition_of_their_events_and_read_back_from_it(
    broker: BrokerInfo, stack: Stack, tmp_path: Path
) -> None:
    """The worker reads a patient's state from the one database its changelog partition is kept in, and
    writes it there: the partition the patient's clinical events are in, whichever worker owns it. Spread
    over every partition, each patient's state is found again after a SIGKILL: every event sent again is
    a duplicate, and no escalation is raised twice."""
    state_dir = tmp_path / "state"
    group = f"triage-place-{uuid.uuid4().hex[:6]}"
    _start_at_end(broker.bootstrap, group, topics.CLINICAL_EVENTS)
    svc = _triage(stack, "triage", state_dir, group)
    patients = [f"place-{uuid.uuid4().hex[:8]}" for _ in range(60)]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for p in patients:
        for e in mscc_events(p):
            producer.send(topics.CLINICAL_EVENTS, key=p.encode(), value=envelope.encode(e))
    producer.flush(30)
    ours = set(patients)
    keys = {p.encode() for p in patients}
    events = _partitions_by_key(broker.bootstrap, topics.CLINICAL_EVENTS, keys)
    # A patient's state is written after their escalations are published: wait for the states themselves.
    deadline = time.monotonic() + 90
    changelog: str | None = None
    states: dict[bytes, set[int]] = {}
    metadata = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    try:
        while set(states) != keys and time.monotonic() < deadline:
            time.sleep(0.5)
            changelog = changelog or next(
                (t for t in metadata.topics() if group in t and "changelog" in t), None
            )
            if changelog is not None:
                states = _partitions_by_key(broker.bootstrap, changelog, keys)
        partitions = metadata.partitions_for_topic(topics.CLINICAL_EVENTS)
    finally:
        metadata.close()
    assert set(states) == keys, f"{len(keys - set(states))} patients have no state in the changelog"
    misplaced = [k for k in keys if states[k] != events[k] or len(events[k]) != 1]
    assert not misplaced, f"{len(misplaced)} patients' state is not in their events' partition"
    spread = {next(iter(v)) for v in events.values()}
    assert spread == partitions, "the patients did not spread over every partition"

    svc.kill()
    svc.start()
    svc.wait_ready(90)
    removed = [e for e in log_events(svc) if str(e.get("event", "")).startswith("table partition removed")]
    assert not removed, "a database written by the worker did not match its changelog"
    for p in patients:
        for e in mscc_events(p):
            producer.send(topics.CLINICAL_EVENTS, key=p.encode(), value=envelope.encode(e))
    producer.flush(30)
    producer.close()
    deadline = time.monotonic() + 60
    while _duplicates(svc) < 2 * len(patients):
        assert time.monotonic() < deadline, f"{_duplicates(svc):.0f} of {2 * len(patients)} duplicates seen"
        time.sleep(0.5)
    reader = TopicReader(broker.bootstrap, topics.ESCALATIONS_SHADOW)
    reader.settle(2)
    raised = Counter(r.get("subject") for r in reader.records if r.get("subject") in ours)
    reader.close()
    assert set(raised.values()) == {1}, "a patient's state was not read back: an escalation was raised again"
