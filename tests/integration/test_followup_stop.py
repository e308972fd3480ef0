"""A followup worker stopped with SIGTERM while deadlines keep falling due writes nothing over its patients.

A stopping worker gets no revocation signal from Faust, which stops the consumer and the tables before it
calls the app's shutdown hooks; from then on the table no longer answers for the patients it read back
from the changelog at start-up. A timer pass still running then would fire from an empty state and write
that empty state back: the changelog would end with patients that have no expectations, and whoever
reads the partition next would send none of their reminders.

A real worker process on a real broker, on the fast clock: it takes in R1 escalations for a few hundred
patients, spread so that their deadlines fall due one after another for the rest of the test; it is
restarted (so that it holds those patients as read back from the changelog), and stopped with SIGTERM
while they fall due. Every record of the followup table's changelog is then read: none may be the state
of a patient that has seen no input at all.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from carepath import envelope, topics
from tests.conftest import BrokerInfo
from tests.integration.test_followup_worker import r1_escalation, start_followup
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration

PATIENTS = 240
SPREAD_S = 6.0  # real seconds over which the escalations arrive: their deadlines fall due as far apart


@pytest.mark.timeout(240)
def test_a_worker_stopped_while_deadlines_fall_due_writes_no_empty_state(
    broker: BrokerInfo, tmp_path: Path
) -> None:
    group = f"fu-stop-{uuid.uuid4().hex[:6]}"
    stack = start_followup(broker, tmp_path, CAREPATH_FOLLOWUP_GROUP_ID=group)
    worker = stack.services["followup"]
    reminders = TopicReader(broker.bootstrap, topics.REMINDERS)
    prefix = f"stop-{uuid.uuid4().hex[:6]}-"
    try:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
        for n in range(PATIENTS):
            esc = r1_escalation(stack, f"{prefix}{n:04d}")
            producer.send(topics.ESCALATIONS, key=esc["subject"].encode(), value=envelope.encode(esc))
            time.sleep(SPREAD_S / PATIENTS)
        producer.flush(10)
        producer.close()
        # The first reminders (one simulated hour: half a real second) show the worker has them.
        reminders.wait_for(lambda r: str(r.get("subject", "")).startswith(prefix), count=20, timeout=60)

        # Restarted: now it holds the patients as read back from the changelog.
        worker.stop()
        worker.start()
        worker.wait_ready(60)
        reminders.wait_for(lambda r: str(r.get("subject", "")).startswith(prefix), count=200, timeout=60)
        worker.stop()  # SIGTERM, with deadlines still falling due every few milliseconds
    finally:
        stack.stop()

    changelog = TopicReader(broker.bootstrap, f"{group}-followup-expectations-changelog")
    changelog.catch_up()
    changelog.settle(1.0)
    mine = [r for r in changelog.records if str(r.get("patient_id", "")).startswith(prefix)]
    assert {r["patient_id"] for r in mine} == {f"{prefix}{n:04d}" for n in range(PATIENTS)}
    empty = sorted({r["patient_id"] for r in mine if not r.get("seen")})
    assert empty == [], f"{len(empty)} patients written back with an empty state, e.g. {empty[:3]}"
    changelog.close()
    reminders.close()
