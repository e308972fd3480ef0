"""HTTP intake under slow and idle clients, as a real process: a client that sends its request head one
byte at a time holds only its own connection; an idle kept-alive connection is closed after the keep-alive
setting; a request head over the limit is refused; connections over the cap are answered 503 at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.integration.test_intake_on_broker import start_intake

pytestmark = pytest.mark.integration

MAX_CONNECTIONS = 12


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_intake(
        broker.bootstrap,
        broker.profile,
        tmp_path_factory.mktemp("http-limits"),
        CAREPATH_INTAKE_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        CAREPATH_INTAKE_HTTP_KEEPALIVE_S="1",
        CAREPATH_INTAKE_HTTP_MAX_HEADER_BYTES="8192",
    )
    yield svc
    svc.stop()


def slow_head(port: int, seconds: float, stop: threading.Event) -> None:
    """A request head sent one byte at a time, never finished within ``seconds``."""
    head = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 500
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        deadline = time.monotonic() + seconds
        for byte in head:
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return
            time.sleep(0.05)


def test_slow_senders_do_not_stop_another_client_being_served(intake: Service) -> None:
    port = int(intake.url.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [threading.Thread(target=slow_head, args=(port, 8.0, stop)) for _ in range(MAX_CONNECTIONS // 2)]
    for t in slow:
        t.start()
    try:
        time.sleep(1.0)
        started = time.monotonic()
        reply = httpx.get(f"{intake.url}/healthz", timeout=5)
        assert reply.status_code == 200
        assert time.monotonic() - started < 2.0, "a slow sender held up another client"
    finally:
        stop.set()
        for t in slow:
            t.join(timeout=10)


def test_an_idle_kept_alive_connection_is_closed_after_the_keepalive_setting(intake: Service) -> None:
    port = int(intake.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        while sock.recv(65536):  # b"" once intake closes its side
            pass
        assert time.monotonic() - started < 5.0


def test_a_request_head_growing_past_the_limit_is_refused(intake: Service) -> None:
    """intake buffers at most CAREPATH_INTAKE_HTTP_MAX_HEADER_BYTES of a head that has not ended."""
    port = int(intake.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)  # no end of head
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:80]


def test_connections_over_the_cap_are_answered_503_at_once(intake: Service) -> None:
    port = int(intake.url.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [threading.Thread(target=slow_head, args=(port, 8.0, stop)) for _ in range(MAX_CONNECTIONS + 2)]
    for t in slow:
        t.start()
    try:
        time.sleep(1.5)
        started = time.monotonic()
        reply = httpx.post(
            f"{intake.url}/v1/events", json={}, headers={"Authorization": f"Bearer {DEV_TOKEN}"}, timeout=5
        )
        assert reply.status_code == 503 and time.monotonic() - started < 2.0
    finally:
        stop.set()
        for t in slow:
            t.join(timeout=10)
    assert httpx.get(f"{intake.url}/healthz", timeout=5).status_code == 200, "served again once they left"
