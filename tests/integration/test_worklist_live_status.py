"""The worklist page says when it is not live: its broker stops answering, the open pages are told at once
(server-sent status), and told again when it is back. A broker of the test's own, stopped and restarted."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from carepath_tools.broker import EmbeddedBroker, free_port
from carepath_tools.devstack import Stack

pytestmark = pytest.mark.integration


def statuses(lines: Iterator[str], want: str, timeout: float) -> None:
    """Read the stream until a status event says ``want`` (the stream sends a heartbeat every 15 s at
    most, and the read timeout below bounds every line)."""
    deadline = time.monotonic() + timeout
    expecting = False
    for line in lines:
        if expecting and line == f"data: {want}":
            return
        expecting = line == "event: status"
        assert time.monotonic() < deadline, f"no status {want!r} within {timeout:.0f} s"
    raise AssertionError("the stream ended")


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker().start()
    yield b
    b.stop()


def test_the_page_is_told_when_the_broker_stops_answering_and_when_it_is_back(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = Stack(
        log_dir=tmp_path_factory.mktemp("worklist-live"), bootstrap=broker.bootstrap, profile="embedded"
    )
    nowhere = f"http://127.0.0.1:{free_port()}"
    svc = stack.add(
        "worklist",
        "worklist",
        "CAREPATH_WORKLIST_PORT",
        {"CAREPATH_WORKLIST_FOLLOWUP_URL": nowhere, "CAREPATH_WORKLIST_INTAKE_URL": nowhere},
    )
    svc.start()
    restarted: EmbeddedBroker | None = None
    try:
        svc.wait_ready(60)
        client = httpx.Client(base_url=svc.url, timeout=httpx.Timeout(10, read=20))
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf
        client.post("/login/dev", data={"name": "Dr Live", "csrf": csrf.group(1)})
        with client.stream("GET", "/live") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            statuses(lines, "live", 10)
            broker.stop()
            statuses(lines, "not-live", 20)
            page = client.get("/", headers={"Accept": "text/html"})
            assert 'id="live" class="live off"' in page.text and "Not live" in page.text
            restarted = EmbeddedBroker(port=broker.port).start()  # the same address again
            statuses(lines, "live", 30)
    finally:
        svc.stop()
        if restarted is not None:
            restarted.stop()
