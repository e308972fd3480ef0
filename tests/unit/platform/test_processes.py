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
from carepath.processes import track
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
