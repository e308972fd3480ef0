"""A frozen broker never turns into a false acknowledgement.

intake runs as a real process on its own embedded broker, with HL7 v2 over MLLP and JSON over HTTP both
sending steadily. The broker is frozen (SIGSTOP: connections stay open, nothing answers, as a broker
stuck in a long GC pause or a partitioned network looks) for 15 seconds, then resumed. Afterwards:

- every event answered ``202`` / ``AA`` is on the topic exactly once;
- no request waited past the publish timeout (plus a margin): a sender is answered, never left hanging;
- what was answered ``503`` / ``AR`` may or may not have been stored (the sender resends it, and intake
  de-duplicates by id), but nothing was acknowledged that is not stored.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from carepath import topics
from carepath_tools.broker import EmbeddedBroker, free_port
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.support.topics import TopicReader
from tests.unit.hl7 import samples

pytestmark = pytest.mark.integration

PUBLISH_TIMEOUT_S = 3.0
FREEZE_S = 15.0
RUN_S = 26.0  # 5 s before the freeze, 15 s frozen, 6 s after
# intake waits at most about twice the publish timeout plus 5 s for the broker (KafkaPublisher.publish)
LONGEST_ANSWER_S = PUBLISH_TIMEOUT_S * 2 + 5 + 3


@dataclass
class Outcome:
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)  # event ids (HTTP) / control ids (MLLP)
    refused: list[str] = field(default_factory=list)
    slowest_s: float = 0.0
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def frozen_setup(tmp_path: Path) -> Iterator[tuple[EmbeddedBroker, Service, int]]:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    port, mllp_port = free_port(), free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CAREPATH_BROKER_PROFILE": "embedded",
        "CAREPATH_ENVIRONMENT": "test",
        "CAREPATH_INTAKE_TOKENS": DEV_TOKEN,
        "CAREPATH_INTAKE_PORT": str(port),
        "CAREPATH_BIND_HOST": "127.0.0.1",
        "CAREPATH_INTAKE_MLLP_PORT": str(mllp_port),
        "CAREPATH_INTAKE_PUBLISH_TIMEOUT_S": str(PUBLISH_TIMEOUT_S),
    }
    svc = Service("intake", "intake", port, env, tmp_path / "intake.log")
    svc.start()
    try:
        svc.wait_ready(30)
        yield broker, svc, mllp_port
    finally:
        pid = broker.pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)  # never leave a stopped process behind
        svc.stop()
        broker.stop()


def http_sender(url: str, run: str, until: float, out: Outcome) -> None:
    with httpx.Client(timeout=LONGEST_ANSWER_S + 5) as client:
        n = 0
        while time.monotonic() < until:
            n += 1
            event_id = f"outage-{run}-h{n}"
            event = {
                "specversion": "1.0",
                "id": event_id,
                "source": "urn:hospital:epr",
                "type": "carepath.pain.reported.v1",
                "subject": f"outage-{run}-{n % 7}",
                "time": datetime.now(UTC).isoformat(),
                "data": {"nrs": 4, "site": ["lumbar"]},
            }
            started = time.monotonic()
            try:
                reply = client.post(
                    f"{url}/v1/events", json=event, headers={"Authorization": f"Bearer {DEV_TOKEN}"}
                )
            except httpx.HTTPError as exc:
                out.errors.append(f"http {type(exc).__name__}")
                continue
            out.slowest_s = max(out.slowest_s, time.monotonic() - started)
            out.sent += 1
            if reply.status_code == 202:
                out.acknowledged.append(event_id)
            elif reply.status_code == 503:
                out.refused.append(event_id)
            else:
                out.errors.append(f"http {reply.status_code}")
            time.sleep(0.05)


def mllp_sender(port: int, run: str, until: float, out: Outcome) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=LONGEST_ANSWER_S + 5) as sock:
        n = 0
        buffer = b""
        while time.monotonic() < until:
            n += 1
            control_id = f"OUT{run}M{n}"
            message = samples.oru_pain(control_id, f"outage-{run}-m{n % 5}", nrs="3")
            started = time.monotonic()
            sock.sendall(b"\x0b" + message.encode() + b"\x1c\r")
            while b"\x1c\r" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    out.errors.append("mllp closed")
                    return
                buffer += chunk
            frame, buffer = buffer.split(b"\x1c\r", 1)
            out.slowest_s = max(out.slowest_s, time.monotonic() - started)
            out.sent += 1
            msa = next(s for s in frame.strip(b"\x0b").decode().split("\r") if s.startswith("MSA|"))
            code = msa.split("|")[1]
            if code == "AA":
                out.acknowledged.append(control_id)
            elif code == "AR":
                out.refused.append(control_id)
            else:
                out.errors.append(f"mllp {code}: {msa[:120]}")
            time.sleep(0.05)


def test_a_frozen_broker_gets_no_acknowledgement_for_anything_not_stored(
    frozen_setup: tuple[EmbeddedBroker, Service, int],
) -> None:
    broker, svc, mllp_port = frozen_setup
    run = uuid.uuid4().hex[:6].upper()
    until = time.monotonic() + RUN_S
    http_out, mllp_out = Outcome(), Outcome()
    senders = [
        threading.Thread(target=http_sender, args=(svc.url, run, until, http_out)),
        threading.Thread(target=mllp_sender, args=(mllp_port, run, until, mllp_out)),
    ]
    for t in senders:
        t.start()
    time.sleep(5)
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGSTOP)
    time.sleep(FREEZE_S)
    os.kill(broker.pid, signal.SIGCONT)
    for t in senders:
        t.join(timeout=RUN_S + LONGEST_ANSWER_S * 2)
        assert not t.is_alive(), "a sender was left waiting for an answer"

    print(
        f"frozen {FREEZE_S:.0f} s: HTTP {http_out.sent} sent, {len(http_out.acknowledged)} 202, "
        f"{len(http_out.refused)} 503; MLLP {mllp_out.sent} sent, {len(mllp_out.acknowledged)} AA, "
        f"{len(mllp_out.refused)} AR; slowest answer {max(http_out.slowest_s, mllp_out.slowest_s):.1f} s"
    )
    assert not http_out.errors and not mllp_out.errors, (http_out.errors[:5], mllp_out.errors[:5])
    assert http_out.refused and mllp_out.refused, "the freeze was not noticed: the test proves nothing"
    assert http_out.acknowledged and mllp_out.acknowledged, "nothing got through before or after the freeze"
    assert max(http_out.slowest_s, mllp_out.slowest_s) <= LONGEST_ANSWER_S, "a request hung"

    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    try:
        wanted = set(http_out.acknowledged)
        events.wait_for(lambda r: r.get("id") in wanted, count=len(wanted), timeout=30)
        events.settle(2)
    finally:
        events.close()
    ids = [str(r.get("id")) for r in events.records]
    for event_id in http_out.acknowledged:
        assert ids.count(event_id) == 1, f"{event_id} answered 202 but stored {ids.count(event_id)} times"
    # an HL7 message's events are hl7v2:<sender>:<MSH-10>:<n>; the pain report is the one event here
    for control_id in mllp_out.acknowledged:
        stored = [i for i in ids if i.split(":")[2:3] == [control_id]]
        assert len(stored) == 1, f"MSH-10 {control_id} answered AA but stored as {stored} ({ids[-3:]})"
