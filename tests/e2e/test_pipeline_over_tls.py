"""The pipeline over mutual TLS: intake, triage and followup as real processes whose every Kafka connection
(Faust's consumer, producer and admin; intake's producer; the fetch high-watermark reader) is TLS with a
client certificate, given by the CAREPATH_KAFKA_* settings only.

The embedded broker cannot serve TLS itself (Tansu 0.6.0: ``--cert`` and ``--key`` cannot be given together,
and either alone leaves the listener plaintext), so it stands behind a TLS terminator in its own process that
requires a client certificate signed by the test CA, and advertises the terminator's address: a process
that tried plaintext, or came without its certificate, would reach no broker at all
(tests/integration/test_kafka_tls.py shows both refused).

Timeline (the stack's clock runs 3600x): a patient with active breast cancer reports leg weakness ->
R1 emergency from triage; no MRI follows -> followup's F3 warning at 12 simulated hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carepath import topics
from carepath_tools.devstack import Stack
from tests.support.events import post_event
from tests.support.tls import TlsBroker, broker_behind_tls
from tests.support.topics import TopicReader, for_patient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, TlsBroker]]:
    log_dir: Path = tmp_path_factory.mktemp("tls-stack")
    with broker_behind_tls(log_dir / "pki", log_path=log_dir / "broker.log") as tls:
        stack = Stack(
            log_dir=log_dir,
            time_scale=3600.0,
            bootstrap=tls.bootstrap,
            profile="embedded",
            extra_env=tls.env(),
        )
        try:
            stack.start(ready_timeout=90)
            yield stack, tls
        finally:
            stack.stop()


def post(stack: Stack, patient: str, etype: str, data: dict[str, Any], n: int) -> None:
    post_event(stack, patient, etype, data, n)


def test_an_emergency_is_escalated_and_followed_up_with_every_kafka_connection_over_mtls(
    tls_stack: tuple[Stack, TlsBroker],
) -> None:
    stack, tls = tls_stack
    security = stack.kafka_security
    assert (
        security["security_protocol"] == "SSL" and security["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    )
    escalations = TopicReader(tls.bootstrap, topics.ESCALATIONS, security)
    reminders = TopicReader(tls.bootstrap, topics.REMINDERS, security)
    try:
        patient = f"tls-{uuid.uuid4().hex[:8]}"
        post(
            stack,
            patient,
            "carepath.diagnosis.recorded.v1",
            {"cancer": {"primary_site": "breast", "status": "active"}, "age_years": 61},
            0,
        )
        post(
            stack,
            patient,
            "carepath.pain.reported.v1",
            {"nrs": 7, "site": ["thoracic"], "neurological": ["limb_weakness", "walking_difficulty"]},
            1,
        )
        raised = for_patient(patient, "carepath.escalation.raised")
        [esc] = escalations.wait_for(lambda r: raised(r) and r["data"]["rule"]["id"] == "R1", timeout=60)
        assert esc["data"]["severity"] == "emergency"
        [warning] = reminders.wait_for(
            lambda r: (
                r.get("subject") == patient
                and r["data"]["expectation"]["id"] == "F3"
                and r["data"]["kind"] == "warning"
            ),
            timeout=60,
        )
        assert warning["type"] == "carepath.reminder.due.v1"
    finally:
        escalations.close()
        reminders.close()
