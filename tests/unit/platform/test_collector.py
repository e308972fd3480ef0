"""The collector tuning a service applies once it has started (carepath.collector), in a process of its
own: freezing and re-tuning the test runner's collector would change every later test."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from carepath.settings import CommonSettings

PROBE = """
import gc, json
from carepath import collector
from carepath.settings import load, CommonSettings
kept = [dict(n=i) for i in range(1000)]  # alive at start-up, like the app and the pathway
before = gc.get_freeze_count()
collector.tune(load(CommonSettings).gc_thresholds)
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold(),
                  "enabled": gc.isenabled()}))
"""


def _probe(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
        | {"CAREPATH_ENVIRONMENT": "test"}
        | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_a_service_freezes_what_it_holds_at_start_up_and_raises_the_thresholds() -> None:
    got = _probe({})
    assert got["before"] == 0
    assert isinstance(got["frozen"], int) and got["frozen"] > 1000  # the 1,000 dicts and every module
    assert got["thresholds"] == [10_000, 50, 100]
    assert got["enabled"] is True  # cycles are still collected


def test_the_thresholds_are_a_setting() -> None:
    assert _probe({"CAREPATH_GC_THRESHOLDS": "[700,10,10]"})["thresholds"] == [700, 10, 10]


def test_the_default_is_the_measured_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREPATH_GC_THRESHOLDS", raising=False)
    assert CommonSettings().gc_thresholds == (10_000, 50, 100)
