"""The MLLP listener under faults and load, as a real intake process on a real broker with real sockets on
loopback: frames that break MLLP, several messages in one frame, a large message that must be refused, idle
and half-open connections, a connection cap, and the listener in a process of its own. Every test is
bounded in time and in count."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from carepath import topics
from carepath_tools.broker import free_port
from carepath_tools.devstack import Service
from tests.conftest import BrokerInfo
from tests.integration.test_mllp import SITE_CODES, MllpClient, msa, new_patient, start_intake
from tests.support.topics import TopicReader
from tests.unit.hl7 import samples

pytestmark = pytest.mark.integration

ONE_MIB = 1024 * 1024
FRAME_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 220


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int]]:
    svc, mllp_port = start_intake(
        broker.bootstrap,
        broker.profile,
        tmp_path_factory.mktemp("intake-mllp-limits"),
        CAREPATH_INTAKE_MLLP_MAX_BYTES=str(ONE_MIB),  # the default: a 0.8 MiB message is within it
        CAREPATH_INTAKE_MLLP_FRAME_TIMEOUT_S=str(FRAME_TIMEOUT_S),
        CAREPATH_INTAKE_MLLP_IDLE_TIMEOUT_S="120",
        CAREPATH_INTAKE_MLLP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    yield svc, mllp_port
    svc.stop()


def raw_ack(sock: socket.socket, timeout: float = 15.0) -> bytes:
    """One ACK frame read from a socket, or b"" if intake closed the connection first."""
    sock.settimeout(timeout)
    data = b""
    while b"\x1c\r" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Whether intake closes the connection (without answering) within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def metric(svc: Service, line_start: str) -> float:
    for line in httpx.get(f"{svc.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


# -- frames -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        pytest.param(
            lambda m: b"junk\x0b" + m + b"\x1c\r", "bytes before the start block", id="bytes before"
        ),
        pytest.param(lambda m: m + b"\x1c\r", "no start block", id="no start block"),
        pytest.param(lambda m: b"\x0b\x0b" + m + b"\x1c\r", "repeated", id="doubled start block"),
    ],
)
def test_a_frame_that_breaks_mllp_is_ae_and_the_connection_stays_usable(
    broker: BrokerInfo, intake: tuple[Service, int], wire: object, reason: str
) -> None:
    patient = new_patient()
    message = samples.oru_pain(f"{patient}-1", patient).encode()
    with socket.create_connection(("127.0.0.1", intake[1]), timeout=15) as sock:
        sock.sendall(wire(message))  # type: ignore[operator]
        ack = raw_ack(sock)
        assert b"MSA|AE|" + f"{patient}-1".encode() in ack and reason.encode() in ack
    client = MllpClient(intake[1])
    try:  # the same message sent properly is stored
        assert msa(client.send(message)) == ("AA", f"{patient}-1")
    finally:
        client.close()
    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    events.wait_for(lambda r: r.get("subject") == patient)
    events.settle(0.5)
    assert len([r for r in events.records if r.get("subject") == patient]) == 1
    events.close()


def test_a_frame_ending_in_fs_without_cr_is_answered_not_left_waiting(intake: tuple[Service, int]) -> None:
    patient = new_patient()
    with socket.create_connection(("127.0.0.1", intake[1]), timeout=15) as sock:
        started = time.monotonic()
        sock.sendall(b"\x0b" + samples.oru_pain(f"{patient}-1", patient).encode() + b"\x1c")
        ack = raw_ack(sock, timeout=10)
        assert b"MSA|AA|" + f"{patient}-1".encode() in ack
        assert time.monotonic() - started < 8


def test_two_messages_in_one_frame_get_one_ae_and_neither_patient_gets_anything(
    broker: BrokerInfo, intake: tuple[Service, int]
) -> None:
    first, second = new_patient(), new_patient() + "B"
    frame = samples.oru_pain(f"{first}-1", first) + "\r" + samples.oru_radiology(f"{second}-1", second)
    with socket.create_connection(("127.0.0.1", intake[1]), timeout=15) as sock:
        sock.sendall(b"\x0b" + frame.encode() + b"\x1c\r")
        ack = raw_ack(sock)
        assert ack.count(b"\x0b") == 1 and b"MSA|AE|" + f"{first}-1".encode() in ack
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(65536)  # one frame in, one ACK out: no second ACK to desynchronise the sender
    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    events.settle(1.0)
    assert not [r for r in events.records if r.get("subject") in (first, second)]
    events.close()


# -- a large message that must be refused ---------------------------------------------------------------


def test_a_large_message_that_must_be_refused_is_ae_every_time_and_dead_lettered(
    broker: BrokerInfo, intake: tuple[Service, int]
) -> None:
    """0.8 MiB, within the size limit, of a type carepath does not take: AE, never AR (which an engine
    would retry forever), and its bounded dead-letter record is on the DLQ topic."""
    patient = new_patient()
    control_id = f"{patient}-BIG"
    message = "\r".join(
        [
            samples.msh(control_id, "MDM^T02^MDM_T02", app="EPR"),
            samples.pid(patient),
            "TXA|1|DS|TX|20240501090000+0100",
            "NTE|1||" + "Long clinical letter text. " * 31_000,
        ]
    )
    assert 0.7 * ONE_MIB < len(message) < 0.9 * ONE_MIB
    client = MllpClient(intake[1])
    try:
        for _ in range(2):  # resent by the engine: the same answer
            ack = client.send(message)
            assert msa(ack) == ("AE", control_id)
            assert str(ack.segment("ERR")(3)(1)(1)) == "200"
    finally:
        client.close()
    dlq = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_DLQ)
    letters = dlq.wait_for(lambda d: control_id in d.get("raw", "")[:300], count=2, timeout=30)
    dlq.close()
    assert all(d["raw_length"] == len(message) and d["raw_truncated"] for d in letters)
    assert all(len(d["raw"]) < len(message) and d["channel"] == "mllp" for d in letters)


# -- connections ------------------------------------------------------------------------------------------


def test_200_idle_connections_do_not_stop_another_senders_message(intake: tuple[Service, int]) -> None:
    idle: list[socket.socket] = []
    try:
        for _ in range(200):
            idle.append(socket.create_connection(("127.0.0.1", intake[1]), timeout=10))
        idle[-1].sendall(b"\x0b")  # one of them has begun a frame and stopped
        patient = new_patient()
        client = MllpClient(intake[1], timeout=15)
        try:
            started = time.monotonic()
            assert msa(client.send(samples.oru_pain(f"{patient}-1", patient))) == ("AA", f"{patient}-1")
            assert time.monotonic() - started < 10
        finally:
            client.close()
        assert metric(intake[0], "carepath_intake_mllp_connections ") >= 200
    finally:
        for sock in idle:
            sock.close()


def test_connections_over_the_cap_are_closed_at_once_and_counted(intake: tuple[Service, int]) -> None:
    svc, port = intake
    refused_before = metric(svc, "carepath_intake_mllp_connections_refused_total")
    held: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS + 10):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        closed = [s for s in held[-10:] if closed_by_peer(s, 5)]
        assert len(closed) == 10
        assert metric(svc, "carepath_intake_mllp_connections_refused_total") - refused_before >= 10
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10  # once they are gone, a sender gets in again
    while metric(svc, "carepath_intake_mllp_connections ") > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    patient = new_patient()
    client = MllpClient(port)
    try:
        assert msa(client.send(samples.oru_pain(f"{patient}-1", patient)))[0] == "AA"
    finally:
        client.close()


@pytest.mark.parametrize(
    "begun",
    [
        pytest.param(b"\x0b", id="start block only"),
        pytest.param(b"\x0bMSH|^~\\&|EPR|RLH|CAREPATH|RLH|20240501", id="header cut off"),
        pytest.param(b"\x0b" + samples.oru_pain("HALF-1", "MRN1").encode(), id="message without end block"),
    ],
)
def test_a_half_open_frame_is_closed_after_the_frame_timeout(
    intake: tuple[Service, int], begun: bytes
) -> None:
    svc, port = intake
    before = metric(svc, 'carepath_intake_mllp_timeouts_total{kind="frame"}')
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(begun)
        started = time.monotonic()
        assert closed_by_peer(sock, FRAME_TIMEOUT_S + 8)
        assert FRAME_TIMEOUT_S - 0.5 < time.monotonic() - started < FRAME_TIMEOUT_S + 8
    assert metric(svc, 'carepath_intake_mllp_timeouts_total{kind="frame"}') > before


# -- the listener in a process of its own -----------------------------------------------------------------


def test_the_listener_runs_in_its_own_process_and_the_http_process_leaves_the_port_alone(
    broker: BrokerInfo, tmp_path: Path
) -> None:
    mllp_port = free_port()
    http, _ = start_intake(
        broker.bootstrap,
        broker.profile,
        tmp_path,
        CAREPATH_INTAKE_MLLP_PORT=str(mllp_port),
        CAREPATH_INTAKE_MLLP_STANDALONE="true",
    )
    listener = None
    try:
        assert http.env["CAREPATH_INTAKE_MLLP_PORT"] == str(mllp_port)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", mllp_port), timeout=5).close()
        env = dict(http.env) | {
            "CAREPATH_INTAKE_MLLP_STATUS_PORT": str(free_port()),
            "CAREPATH_INTAKE_MLLP_IDLE_TIMEOUT_S": "1.5",
            "CAREPATH_HL7_CODES": str(SITE_CODES),
        }
        status_port = int(env["CAREPATH_INTAKE_MLLP_STATUS_PORT"])
        listener = Service("intake-mllp", "intake.hl7", status_port, env, tmp_path / "intake-mllp.log")
        listener.start()
        listener.wait_ready(30)
        patient = new_patient()
        client = MllpClient(mllp_port)
        try:
            assert msa(client.send(samples.oru_pain(f"{patient}-1", patient))) == ("AA", f"{patient}-1")
            assert closed_by_peer(client.sock, 10)  # then idle: closed after the idle timeout
        finally:
            client.close()
        events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
        [event] = events.wait_for(lambda r: r.get("subject") == patient)
        events.close()
        assert event["id"] == f"hl7v2:RLH:{patient}-1:0"
        status = httpx.get(f"{listener.url}/metrics", timeout=5).text
        assert 'carepath_intake_mllp_messages_total{ack="AA"} 1.0' in status
        assert 'carepath_intake_mllp_timeouts_total{kind="idle"} 1.0' in status
        assert httpx.get(f"{http.url}/healthz", timeout=5).status_code == 200  # HTTP intake unaffected
    finally:
        if listener is not None:
            listener.stop()
        http.stop()
