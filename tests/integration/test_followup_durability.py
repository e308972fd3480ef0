"""Deadlines survive a crash and a rebalance; the worklist is the same from any worker.

Real processes on a real broker, on a clock running 1800x (the 12 h MRI warning is 24 real seconds
away, the 24 h deadline 48 s), so every deadline falls after the crash and the restart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from carepath import auth, topics
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo
from tests.integration.test_followup_worker import publish, r1_escalation
from tests.support.service_logs import log_events
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration

READER = auth.bearer(auth.DEV_READ_TOKEN)
SCALE = 1800.0


def followup_stack(broker: BrokerInfo, log_dir: Path) -> Stack:
    stack = Stack(
        log_dir=log_dir,
        time_scale=SCALE,
        bootstrap=broker.bootstrap,
        profile=broker.profile,
        extra_env={"CAREPATH_FOLLOWUP_GROUP_ID": f"fu-{uuid.uuid4().hex[:6]}"},
    )
    stack.start_broker()
    return stack


def add_worker(stack: Stack, name: str) -> Service:
    svc = stack.add(name, "followup", "CAREPATH_FOLLOWUP_PORT")
    svc.start()
    svc.wait_ready(60)
    return svc


@pytest.fixture
def stack(broker: BrokerInfo, tmp_path: Path) -> Iterator[Stack]:
    s = followup_stack(broker, tmp_path)
    yield s
    s.stop()


def republished(svc: Service) -> float:
    """``carepath_followup_reminders_republished_total`` as the worker's /metrics page reports it."""
    text = httpx.get(f"{svc.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("carepath_followup_reminders_republished_total "):
            return float(line.split()[1])
    raise AssertionError("carepath_followup_reminders_republished_total is not exported")


def test_sigkill_with_deadlines_pending_loses_none_and_repeats_only_identical(
    broker: BrokerInfo, stack: Stack
) -> None:
    """What followup promises across a crash: no reminder is lost, every reminder id is one reminder,
    and a raw duplicate on the topic happens only in the one window at-least-once leaves open.

    The SIGKILL lands while reminders are firing (F1's chain falls due 2, 3 and 4 real seconds after
    each escalation). A reminder the broker acknowledged before the kill, but whose "fired" state was not
    yet written, is published again by the restarted worker: that is by design (losing it instead would
    be the hazard). The worker records such reminders as ``sending`` before publishing them, so the
    repeat is the same record (id and payload byte for byte, which consumers de-duplicate) and is counted
    in ``carepath_followup_reminders_republished_total``. Any other repeat (a timer firing from a table
    still being recovered, or a recovery stopping short of the changelog's end) would be a different
    payload (a later ``fired_at``) and uncounted, and fails here.
    """
    worker = add_worker(stack, "followup-1")
    run = uuid.uuid4().hex[:6]
    patients = [f"kill-{run}-{i}" for i in range(12)]
    escalations = {p: r1_escalation(stack, p) for p in patients}
    for esc in escalations.values():
        publish(broker.bootstrap, topics.ESCALATIONS, esc)
    time.sleep(4)  # processed, in the changelog, F1's chain firing; F3 is 24 s (12 h) away
    worker.kill()  # SIGKILL: no flush, no commit, no goodbye
    restarted = add_worker(stack, "followup-1-restarted")
    assert restarted.running()

    reader = TopicReader(broker.bootstrap, topics.REMINDERS)

    def f3(patient: str, kind: str) -> bool:
        return any(
            r.get("subject") == patient
            and r["data"]["expectation"]["id"] == "F3"
            and r["data"]["kind"] == kind
            for r in reader.records
        )

    reader.wait_for(
        lambda r: (
            r.get("subject") in escalations
            and r["data"]["kind"] == "overdue"
            and r["data"]["expectation"]["id"] == "F3"
        ),
        count=len(patients),
        timeout=90,
    )
    reader.settle(3)
    missing = [p for p in patients if not (f3(p, "warning") and f3(p, "overdue"))]
    assert missing == [], f"deadlines lost across the crash for {len(missing)} of {len(patients)} patients"
    for p in patients:  # F1's whole chain, fired around the kill, arrived for every patient
        levels = {
            r["data"]["level"]
            for r in reader.records
            if r.get("subject") == p and r["data"]["expectation"]["id"] == "F1"
        }
        assert levels == {1, 2, 3}, f"F1 chain levels {sorted(levels)} for one patient"

    ours = [
        (r["id"], value)
        for r, (_, value) in zip(reader.records, reader.raw, strict=True)
        if r.get("subject") in escalations
    ]
    by_id: dict[str, set[bytes]] = {}
    for rid, value in ours:
        by_id.setdefault(rid, set()).add(value)
    different = sorted(rid for rid, values in by_id.items() if len(values) > 1)
    assert different == [], f"one reminder id published with different content: {different[:5]}"
    repeats = len(ours) - len(by_id)
    counted = republished(restarted)
    assert repeats <= counted, (
        f"{repeats} reminders repeated but only {counted:.0f} republished in the crash window"
    )
    reader.close()
    # The restarted worker read each patient of its table into its due index once, partition by partition
    # as each caught up with its inputs (not the whole table again for every partition that joined). The
    # table holds every patient of the broker's input topics (this group read them from the start); nothing
    # new arrives after the restart, so what the worker read is what its changelog holds.
    rebuilt = [e for e in log_events(restarted) if e.get("event") == "due index rebuilt"]
    assert rebuilt, "the restarted worker never built its due index"
    changelog = TopicReader(
        broker.bootstrap, f"{stack.extra_env['CAREPATH_FOLLOWUP_GROUP_ID']}-followup-expectations-changelog"
    )
    changelog.settle(3)
    changelog.close()
    stored = {key for key, _ in changelog.raw}
    assert set(patients) <= {key.decode() for key in stored if key}
    assert sum(int(str(e["read"])) for e in rebuilt) == len(stored), (rebuilt, len(stored))


def without_clock(entry: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in entry.items() if k != "overdue"}


def test_two_workers_share_the_partitions_and_answer_the_same_worklist(
    broker: BrokerInfo, stack: Stack
) -> None:
    first = add_worker(stack, "followup-a")
    second = add_worker(stack, "followup-b")
    run = uuid.uuid4().hex[:6]
    patients = [f"wl-{run}-{i}" for i in range(16)]
    esc_ids = set()
    for p in patients:
        esc = r1_escalation(stack, p)
        esc_ids.add(esc["data"]["escalation_id"])
        publish(broker.bootstrap, topics.ESCALATIONS, esc)

    def worklist(svc: Service) -> dict[str, object]:
        r = httpx.get(f"{svc.url}/v1/worklist", params={"severity": "emergency"}, headers=READER, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    deadline = time.monotonic() + 60
    while True:
        a, b = worklist(first), worklist(second)
        ids_a = {e["escalation_id"] for e in a["escalations"] if e["patient_id"] in patients}  # type: ignore[union-attr,index]
        ids_b = {e["escalation_id"] for e in b["escalations"] if e["patient_id"] in patients}  # type: ignore[union-attr,index]
        if ids_a == ids_b == esc_ids or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert a["workers"] == b["workers"] == 2
    assert ids_a == esc_ids and ids_b == esc_ids

    # Each patient's partition is owned by one worker; either worker answers for every patient.
    for p in patients[:6]:
        one = httpx.get(f"{first.url}/v1/patients/{p}/worklist", headers=READER, timeout=10).json()
        two = httpx.get(f"{second.url}/v1/patients/{p}/worklist", headers=READER, timeout=10).json()
        # "overdue" is read off the (1,800x) clock at each answer, so two answers a moment apart may differ
        # on it as a deadline passes between them; everything else is the owning worker's state.
        assert [without_clock(e) for e in one["escalations"]] == [
            without_clock(e) for e in two["escalations"]
        ]
        assert len(one["escalations"]) == 1
        esc_id = one["escalations"][0]["escalation_id"]
        known = httpx.get(f"{second.url}/v1/patients/{p}/targets/{esc_id}", headers=READER, timeout=10)
        assert known.status_code == 200
        unknown = httpx.get(f"{first.url}/v1/patients/{p}/targets/esc-unknown", headers=READER, timeout=10)
        assert unknown.status_code == 404
    assert httpx.get(f"{first.url}/v1/worklist", timeout=10).status_code == 401
