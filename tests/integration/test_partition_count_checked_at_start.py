"""A worker started with a partition count other than its topics' stops at once, naming the topics, instead
of reading one patient's events and escalations on different partitions (a silent misroute)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from carepath import topics
from carepath_tools.broker import free_port
from tests.conftest import BrokerInfo

pytestmark = pytest.mark.integration


def start(service: str, broker: BrokerInfo, partitions: int) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREPATH_", "KAFKA_"))}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CAREPATH_BROKER_PROFILE": broker.profile,
        "CAREPATH_ENVIRONMENT": "development",
        f"CAREPATH_{service.upper()}_PORT": str(free_port()),
        topics.PARTITIONS_VARIABLE: str(partitions),
    }
    return subprocess.run(
        [sys.executable, "-m", service], env=env, capture_output=True, timeout=90, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("service", ["triage", "followup", "notifier"])
def test_a_worker_configured_for_another_partition_count_stops_naming_the_topics(
    broker: BrokerInfo, service: str
) -> None:
    actual = topics.partitions()  # what the session's broker was given (tests/conftest.py)
    done = start(service, broker, actual + 2)
    err = done.stderr.decode(errors="replace")
    assert done.returncode != 0, err[-800:]
    assert f"{topics.CLINICAL_EVENTS} has {actual} partitions" in err, err[-800:]
    assert f"{topics.ESCALATIONS} has {actual} partitions" in err
    assert f"carepath is configured for {actual + 2} ({topics.PARTITIONS_VARIABLE})" in err
    assert "never change a topic's count in place" in err
