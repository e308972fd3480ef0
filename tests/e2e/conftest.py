"""The whole pipeline as real processes: broker, intake, triage, followup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo

# 3600 simulated seconds per real second: the 24 h MRI deadline passes in 24 s.
TIME_SCALE = 3600.0


@pytest.fixture(scope="module")
def stack(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp("stack")
    s = Stack(log_dir=log_dir, time_scale=TIME_SCALE, bootstrap=broker.bootstrap, profile=broker.profile)
    s.start(ready_timeout=90)
    yield s
    s.stop()
