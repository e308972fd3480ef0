"""HL7 v2 over MLLP into intake as a real process on a real broker: a real MLLP client on loopback keeps
one connection open, and what each ACK says matches what the broker holds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hl7
import httpx
import pytest

from carepath import topics
from carepath_tools.broker import EmbeddedBroker, free_port
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.support.topics import TopicReader
from tests.unit.hl7 import samples

pytestmark = pytest.mark.integration

MAX_BYTES = 64 * 1024
SITE_CODES = Path(__file__).parents[1] / "unit" / "hl7" / "site-codes.yaml"  # the lab's potassium: ignored


class MllpClient:
    """A minimal MLLP client: <VT>message<FS><CR> out, the ACK frame back, on one kept-open connection."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send(self, message: str | bytes) -> hl7.Message:
        raw = message.encode() if isinstance(message, str) else message
        self.sock.sendall(b"\x0b" + raw + b"\x1c\r")
        return self.next_frame()

    def next_frame(self) -> hl7.Message:
        """The next acknowledgement on the connection (enhanced mode can answer a message with two)."""
        while b"\x1c\r" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("intake closed the connection without an ACK")
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(b"\x1c\r", 1)
        assert frame.startswith(b"\x0b"), frame[:20]
        return hl7.parse(frame[1:].decode())

    def close(self) -> None:
        self.sock.close()


def msa(ack: hl7.Message) -> tuple[str, str]:
    segment = ack.segment("MSA")
    return str(segment(1)), str(segment(2))


def start_intake(bootstrap: str, profile: str, log_dir: Path, **extra: str) -> tuple[Service, int]:
    port, mllp_port = free_port(), free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CAREPATH_BROKER_PROFILE": profile,
        "CAREPATH_ENVIRONMENT": "test",
        "CAREPATH_INTAKE_TOKENS": DEV_TOKEN,
        "CAREPATH_INTAKE_PORT": str(port),
        "CAREPATH_BIND_HOST": "127.0.0.1",
        "CAREPATH_INTAKE_MLLP_PORT": str(mllp_port),
        "CAREPATH_INTAKE_MLLP_MAX_BYTES": str(MAX_BYTES),
        "CAREPATH_HL7_CODES": str(SITE_CODES),
        **extra,
    }
    svc = Service("intake", "intake", port, env, log_dir / "intake.log")
    svc.start()
    svc.wait_ready(30)  # ready means the lifespan has run: the MLLP listener is up
    return svc, mllp_port


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int]]:
    svc, mllp_port = start_intake(broker.bootstrap, broker.profile, tmp_path_factory.mktemp("intake-mllp"))
    yield svc, mllp_port
    svc.stop()


@pytest.fixture
def client(intake: tuple[Service, int]) -> Iterator[MllpClient]:
    c = MllpClient(intake[1])
    yield c
    c.close()


def new_patient() -> str:
    return f"MRN{time.time_ns()}"


def for_patient(patient: str) -> Any:
    return lambda record: record.get("subject") == patient


def test_good_messages_on_one_connection_are_acked_aa_and_on_the_topic(
    broker: BrokerInfo, client: MllpClient
) -> None:
    patient = new_patient()
    v23_adt = "\n".join(
        [
            f"MSH|^~\\&|PAS|RLH|CAREPATH|RLH|200405011000||ADT^A08|{patient}-4|P|2.3",
            "EVN|A08|200405011000",
            f"PID|1||{patient}^^^RLH^MR||BLOGGS^FRED||19400101|M",
            "DG1|1|I10|C61^Malignant neoplasm of prostate^I10",
        ]
    )
    messages = [
        samples.oru_radiology(f"{patient}-1", patient),
        samples.oru_pain(f"{patient}-2", patient).replace("\r", "\r\n"),
        samples.oru_labs(f"{patient}-3", patient),
        v23_adt,
        samples.rde_o11(f"{patient}-5", patient),
    ]
    for n, message in enumerate(messages, start=1):
        assert msa(client.send(message)) == ("AA", f"{patient}-{n}")
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    events = reader.wait_for(for_patient(patient), count=10)
    reader.close()
    by_id = {e["id"]: e for e in events}
    assert len(by_id) == len(events) == 10  # 1 imaging, 1 pain, 5 labs, birth date + cancer, 1 treatment
    imaging = by_id[f"hl7v2:RLH:{patient}-1:0"]
    findings = {f["code"]: f for f in imaging["data"]["findings"]}
    assert findings["cord_compression"]["certainty"] == "confirmed"
    assert findings["cord_compression"]["evidence"] == "Epidural tumour at T10 compresses the cord."
    assert findings["cauda_equina_compression"]["certainty"] == "excluded"
    assert imaging["data"]["sins_score"] == 11
    assert by_id[f"hl7v2:RLH:{patient}-2:0"]["data"]["nrs"] == 8
    assert by_id[f"hl7v2:RLH:{patient}-4:1"]["data"]["cancer"]["primary_site"] == "prostate"
    assert by_id[f"hl7v2:RLH:{patient}-5:0"]["data"]["agent"] == "dexamethasone"


def test_bad_content_is_ae_with_err_naming_the_field_and_dead_lettered(
    broker: BrokerInfo, client: MllpClient
) -> None:
    patient = new_patient()
    ack = client.send(samples.oru_pain(f"{patient}-1", patient, nrs="14"))
    assert msa(ack) == ("AE", f"{patient}-1")
    err = ack.segment("ERR")
    assert str(err(2)) == "OBX^1^5"
    assert str(err(3)) == "102^Data type error^HL70357"
    assert "/data/nrs: 14 is greater than the maximum of 10" in str(err(8))
    dlq = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_DLQ)
    [letter] = dlq.wait_for(lambda d: d.get("event_id") == f"hl7v2:RLH:{patient}-1:0")
    dlq.close()
    assert letter["channel"] == "mllp" and "/data/nrs" in letter["reason"]
    assert letter["raw"].startswith("MSH|^~\\&|EPR|") and patient in letter["raw"]
    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    events.settle(0.5)
    assert not [e for e in events.records if e.get("subject") == patient]
    events.close()


def test_unreadable_message_is_ae_and_the_connection_stays_usable(client: MllpClient) -> None:
    patient = new_patient()
    assert msa(client.send(b"this is not an HL7 message"))[0] == "AE"
    assert msa(client.send(samples.oru_pain(f"{patient}-1", patient))) == ("AA", f"{patient}-1")


def test_resent_message_is_aa_and_published_once(
    broker: BrokerInfo, intake: tuple[Service, int], client: MllpClient
) -> None:
    patient = new_patient()
    message = samples.oru_radiology(f"{patient}-1", patient)
    for _ in range(3):
        assert msa(client.send(message)) == ("AA", f"{patient}-1")
    other = MllpClient(intake[1])  # a sender that reconnects and resends
    try:
        assert msa(other.send(message)) == ("AA", f"{patient}-1")
    finally:
        other.close()
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    reader.wait_for(for_patient(patient))
    reader.settle(0.5)
    assert [e["id"] for e in reader.records if e.get("subject") == patient] == [f"hl7v2:RLH:{patient}-1:0"]
    reader.close()


def test_message_over_the_size_limit_is_ae_naming_the_limit(client: MllpClient) -> None:
    patient = new_patient()
    lines = ["No cord compression. " * 40] * 120  # about 100 KB of report text
    big = samples.oru_radiology(f"{patient}-1", patient, lines=lines)
    assert len(big) > MAX_BYTES
    ack = client.send(big)
    assert msa(ack) == ("AE", f"{patient}-1")
    assert f"over the limit of {MAX_BYTES} bytes" in str(ack.segment("MSA")(3))
    assert msa(client.send(samples.oru_pain(f"{patient}-2", patient))) == ("AA", f"{patient}-2")


def test_broker_down_means_ar_and_nothing_published(tmp_path: Path) -> None:
    """With the broker stopped intake must never answer AA: AR makes the sender keep the message and retry."""
    own = EmbeddedBroker().start()
    svc, mllp_port = start_intake(own.bootstrap, "embedded", tmp_path, CAREPATH_INTAKE_PUBLISH_TIMEOUT_S="2")
    client = MllpClient(mllp_port)
    try:
        up = client.send(samples.oru_pain("UP-1", "MRN-UP"))
        assert msa(up) == ("AA", "UP-1")
        own.stop()
        down = client.send(samples.oru_radiology("DOWN-1", "MRN-DOWN"))
        assert msa(down) == ("AR", "DOWN-1")
        assert str(down.segment("ERR")(3)) == "207^Application internal error^HL70357"
        assert "send it again" in str(down.segment("ERR")(8))
        metrics = httpx.get(f"{svc.url}/metrics", timeout=5).text
        assert 'carepath_intake_mllp_messages_total{ack="AR"} 1.0' in metrics
        assert (
            'carepath_intake_events_accepted_total{channel="mllp",type="carepath.imaging.resulted.v1"}'
            not in metrics
        )
        assert "carepath_intake_broker_up 0.0" in metrics
    finally:
        client.close()
        svc.stop()
        own.stop()


def test_a_configured_mllp_port_that_is_taken_stops_intake(broker: BrokerInfo, tmp_path: Path) -> None:
    """An engine pointed at a port intake could not bind would queue silently: intake must not start."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env_port = str(taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="exited during start-up"):
            start_intake(broker.bootstrap, broker.profile, tmp_path, CAREPATH_INTAKE_MLLP_PORT=env_port)
    log = (tmp_path / "intake.log").read_text()
    assert "mllp.cannot_listen" in log and "address already in use" in log.lower()


def test_enhanced_mode_commit_then_application_acknowledgement_on_one_connection(
    broker: BrokerInfo, client: MllpClient
) -> None:
    """MSH-15 AL, MSH-16 AL: CA once stored, then AA, in that order on the sender's connection; the next
    message (MSH-15 AL, MSH-16 NE) is answered by its CA alone, so no answer is ever taken for another's."""
    patient = new_patient()
    reader = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    both = samples.oru_pain(f"{patient}-E1", patient).replace("|||||GBR|", "|||AL|AL|GBR|", 1)
    commit = client.send(both)
    assert msa(commit) == ("CA", f"{patient}-E1")
    reader.wait_for(for_patient(patient), timeout=30)  # CA means stored
    assert msa(client.next_frame()) == ("AA", f"{patient}-E1")
    only_commit = samples.oru_pain(f"{patient}-E2", patient, nrs="6").replace("|||||GBR|", "|||AL|NE|GBR|", 1)
    assert msa(client.send(only_commit)) == ("CA", f"{patient}-E2")
    refused = samples.oru_pain(f"{patient}-E3", patient).replace("ORU^R01^ORU_R01", "SIU^S12^SIU_S12")
    reject = client.send(refused.replace("|||||GBR|", "|||ER|NE|GBR|", 1))
    assert msa(reject) == ("CR", f"{patient}-E3")
    assert str(reject.segment("ERR")(3)(1)(1)) == "200"  # unsupported message type
    original = client.send(samples.oru_pain(f"{patient}-E4", patient, nrs="5"))
    assert msa(original) == ("AA", f"{patient}-E4")
    reader.close()
