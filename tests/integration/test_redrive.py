"""python -m intake.redrive as a real process, against a real intake (HTTP and MLLP) on a real broker.

Dead-letter records of input whose cause is now fixed (a JSON event, a FHIR resource, an HL7 message) are
sent through intake again and stored once; one still wrong is refused again and dead-lettered again; a
record kept only in part, a worker's refusal of an escalation and the same input twice are not sent, and
each is counted. A dry run sends nothing; a second run stores nothing twice. intake's MLLP listener speaks
TLS and asks senders for a certificate, as a hospital's would: the re-drive presents one.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer

from carepath import envelope, topics
from carepath.deadletter import dead_letter, unprocessable
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.integration.test_mllp import start_intake
from tests.support.fhir import pain_observation
from tests.support.topics import TopicReader, for_patient
from tests.unit.hl7 import samples
from tests.unit.hl7.test_mllp_tls import _ca, _signed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, the listener's certificate for 127.0.0.1 and an engine's client certificate (openssl)."""
    d = tmp_path_factory.mktemp("redrive-pki")
    ca = _ca(d, "ca")
    listener = _signed(d, "listener", ca, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    engine = _signed(d, "engine", ca, "extendedKeyUsage=clientAuth\n")
    return {
        "ca": ca[0],
        "cert": listener[0],
        "key": listener[1],
        "client": engine[0],
        "client_key": engine[1],
    }


@pytest.fixture(scope="module")
def intake(
    broker: BrokerInfo, pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, int]]:
    svc, mllp_port = start_intake(
        broker.bootstrap,
        broker.profile,
        tmp_path_factory.mktemp("redrive"),
        CAREPATH_INTAKE_MLLP_TLS_CERT=str(pki["cert"]),
        CAREPATH_INTAKE_MLLP_TLS_KEY=str(pki["key"]),
        CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA=str(pki["ca"]),
    )
    yield svc, mllp_port
    svc.stop()


def _event(patient: str, source: str, nrs: int = 6) -> dict[str, Any]:
    return envelope.cloudevent(
        id=f"{patient}-pain",
        type="carepath.pain.reported.v1",
        source=source,
        subject=patient,
        time=datetime.now(UTC) - timedelta(minutes=5),
        data={"nrs": nrs, "site": ["lumbar"]},
    )


def _letter(channel: str, raw: bytes, field: str, at: datetime) -> bytes:
    return dead_letter(
        channel=channel, reason=f"{field}: refused then", errors=[(field, "refused")], raw=raw, received_at=at
    )


def _redrive(
    broker: BrokerInfo, intake: tuple[Service, int], pki: dict[str, Path], *args: str
) -> subprocess.CompletedProcess[str]:
    svc, mllp_port = intake
    env = {
        "PATH": "/usr/bin:/bin",
        "CAREPATH_ENVIRONMENT": "test",
        "CAREPATH_INTAKE_TOKENS": DEV_TOKEN,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
    }
    command = [
        sys.executable,
        "-m",
        "intake.redrive",
        "--intake",
        svc.url,
        "--mllp",
        f"127.0.0.1:{mllp_port}",
        *(
            "--mllp-ca",
            str(pki["ca"]),
            "--mllp-cert",
            str(pki["client"]),
            "--mllp-key",
            str(pki["client_key"]),
        ),
    ]
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_dead_letters_are_sent_through_intake_again_once_and_counted(
    broker: BrokerInfo, intake: tuple[Service, int], pki: dict[str, Path]
) -> None:
    run = uuid.uuid4().hex[:8]
    started = datetime.now(UTC)
    source = f"urn:test:redrive-{run}"
    http_patient, fhir_patient, hl7_patient = f"rd-h-{run}", f"rd-f-{run}", f"RDMRN{run}"
    event = _event(http_patient, source)
    resource = pain_observation(f"rd-{run}", fhir_patient, (started - timedelta(minutes=5)).isoformat())
    message = samples.oru_pain(f"RD-{run}", hl7_patient)
    escalation = {"specversion": "1.0", "type": "carepath.escalation.raised.v1", "subject": http_patient}
    at = started + timedelta(seconds=1)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for record in (
        _letter("http", orjson.dumps(event), "/data/site", at),
        _letter("http", orjson.dumps(event), "/data/site", at),  # the same input twice: sent once
        _letter("fhir", orjson.dumps(resource), "/bodySite", at),
        _letter("mllp", message.encode(), "/OBX[1]/3", at),
        _letter("http", b"{" + b" " * (300 * 1024) + b"}", "", at),  # kept only in part
        unprocessable(
            service="followup", reason="unreadable", detail="x", raw=orjson.dumps(escalation), at=at
        ),
    ):
        producer.send(
            topics.CLINICAL_EVENTS_DLQ, value=record, headers=list(topics.headers(topics.CLINICAL_EVENTS_DLQ))
        )
    producer.flush()
    producer.close()
    # and one refused by intake itself, still wrong: refused again
    wrong = _event(f"rd-w-{run}", source, nrs=14)
    answer = httpx.post(
        f"{intake[0].url}/v1/events", json=wrong, headers={"Authorization": f"Bearer {DEV_TOKEN}"}, timeout=30
    )
    assert answer.status_code == 422, answer.text
    window = ("--from", envelope.iso(started), "--to", envelope.iso(started + timedelta(minutes=10)))

    dry = _redrive(broker, intake, pki, *window)
    assert dry.returncode == 0, dry.stderr
    assert "7 selected" in dry.stdout and "dry run: nothing sent" in dry.stdout, dry.stdout
    assert "/data/site" in dry.stdout and "/OBX[1]/3" in dry.stdout
    assert http_patient not in dry.stdout + dry.stderr and hl7_patient not in dry.stdout + dry.stderr

    only = _redrive(broker, intake, pki, *window, "--channel", "mllp", "--reason", "obx")
    assert "1 selected" in only.stdout and "channel mllp" in only.stdout, only.stdout

    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    events.settle(1)
    assert not [r for r in events.records if r.get("subject") in (http_patient, fhir_patient, hl7_patient)]

    sent = _redrive(broker, intake, pki, *window, "--send")
    assert sent.returncode == 0, sent.stderr
    assert (
        "sent through intake: 3 stored, 1 refused again, 1 not sent: kept only in part (too large), "
        "1 not sent: not an input intake takes, 1 not sent: the same input selected twice"
    ) in sent.stdout, sent.stdout
    assert "sent 7 of 7" in sent.stderr
    for patient in (http_patient, fhir_patient, hl7_patient):
        events.wait_for(for_patient(patient), timeout=30)
    stored = [
        r["id"] for r in events.records if r.get("subject") in (http_patient, fhir_patient, hl7_patient)
    ]

    # Once more: nothing is stored twice (the refused one, dead-lettered again, is now selected twice)
    again = _redrive(broker, intake, pki, *window, "--send")
    assert again.returncode == 0, again.stderr
    assert "8 selected" in again.stdout, again.stdout
    # over MLLP a resend is answered AA as a first delivery is: counted as stored, stored once
    assert (
        "sent through intake: 1 stored, 2 already stored, 1 refused again, 1 not sent: kept only in part "
        "(too large), 1 not sent: not an input intake takes, 2 not sent: the same input selected twice"
    ) in again.stdout, again.stdout
    events.settle(2)
    assert sorted(
        r["id"] for r in events.records if r.get("subject") in (http_patient, fhir_patient, hl7_patient)
    ) == sorted(stored)
    events.close()


def test_an_intake_that_cannot_be_reached_stops_the_run_and_says_so(broker: BrokerInfo) -> None:
    run = uuid.uuid4().hex[:8]
    started = datetime.now(UTC)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    event = _event(f"rd-x-{run}", f"urn:test:redrive-{run}")
    producer.send(topics.CLINICAL_EVENTS_DLQ, value=_letter("http", orjson.dumps(event), "/data", started))
    producer.flush()
    producer.close()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "intake.redrive",
            "--from",
            envelope.iso(started - timedelta(seconds=1)),
            "--source",
            f"urn:test:redrive-{run}",
            "--intake",
            "http://127.0.0.1:9",
            "--send",  # nothing listens on port 9
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "CAREPATH_ENVIRONMENT": "test",
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped: intake did not answer (ConnectError) after 0 of 1 records" in result.stdout, (
        result.stdout
    )
