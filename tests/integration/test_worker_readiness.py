"""A worker's readiness probe follows its consumer's assignment, also for a worker without a table: a real
Faust worker process (the bench's naive stage: one agent, no table) on a real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from carepath_tools.bench import kafka_io
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo

pytestmark = pytest.mark.integration


@pytest.fixture
def tableless(broker: BrokerInfo, tmp_path: Path) -> Iterator[tuple[Stack, Service]]:
    tag = uuid.uuid4().hex[:8]
    source, sink = f"test.ready.in.{tag}", f"test.ready.out.{tag}"
    for topic in (source, sink):
        kafka_io.create_topic(broker.bootstrap, topic, 2)
    stack = Stack(log_dir=tmp_path, bootstrap=broker.bootstrap, profile=broker.profile)
    stack.start_broker()
    svc = stack.add(
        "naive",
        "carepath_tools.bench.naive_worker",
        "CAREPATH_BENCH_NAIVE_PORT",
        {
            "CAREPATH_BENCH_NAIVE_SOURCE": source,
            "CAREPATH_BENCH_NAIVE_SINK": sink,
            "CAREPATH_BENCH_NAIVE_GROUP_ID": f"test-ready-{tag}",
        },
    )
    yield stack, svc
    stack.stop()


def test_a_worker_without_a_table_is_ready_once_its_partitions_are_assigned(
    tableless: tuple[Stack, Service],
) -> None:
    _, svc = tableless
    started = time.monotonic()
    svc.start()
    answers: list[str] = []
    while time.monotonic() - started < 50:
        try:
            r = httpx.get(f"{svc.url}/readyz", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        answers.append(r.json()["status"])
        if r.status_code == 200:
            break
        time.sleep(0.2)
    # Ready well before the minute after which a worker left without partitions is called ready anyway.
    assert answers and answers[-1] == "ready", answers[-5:]
    assert time.monotonic() - started < 55
