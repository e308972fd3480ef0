"""A child process carepath starts never outlives its parent's normal exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.unit

SCRIPT = """
import subprocess, sys
from carepath_tools.processes import track
child = track(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True))
print(child.pid, flush=True)
# exits without stopping it, as an error path might
"""


def test_a_forgotten_child_is_stopped_when_the_parent_exits() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30, check=True
    )
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    raise AssertionError("the child outlived its parent")


def test_terminate_all_gives_every_process_one_grace_period_together() -> None:
    from carepath_tools.processes import terminate_all

    # Three processes that ignore SIGTERM: one after another they would take three grace periods.
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(120)"
    procs = [subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE) for _ in range(3)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline()  # the handler is in place
    started = time.monotonic()
    terminate_all([*procs, None], timeout=2.0)
    took = time.monotonic() - started
    assert [proc.returncode for proc in procs] == [-9, -9, -9]  # killed after the grace period
    assert took < 5.5, took  # one after another: at least 6 s
