"""`make run` as a newcomer sees it: the demo driver as a real process, its output read like a person would."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carepath.resources import ROOT

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


@contextlib.contextmanager
def run_demo(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``make run``'s demo as a process; stopped when the test ends, whatever happened. A test that gave up
    waiting stops reading the demo's output, and the demo would block on its next line forever, its
    broker and services still running beside the tests that follow: it is sent SIGTERM (it then stops its
    stack) and read to its end, or killed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREPATH_", "KAFKA_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "carepath_tools.demo", "--no-colour", "--log-dir", str(tmp_path), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


@pytest.mark.timeout(300)  # the demo's 45 s feed, its start and stop on a busy machine (180 s allowed)
def test_demo_shows_the_emergency_then_the_overdue_mri_and_nothing_for_the_benign_case(
    tmp_path: Path,
) -> None:
    with run_demo(tmp_path, "--duration", "45") as proc:
        out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    lines = out.splitlines()

    def first(pattern: str) -> int:
        for i, line in enumerate(lines):
            if re.search(pattern, line):
                return i
        raise AssertionError(f"no line matches {pattern!r} in:\n{out}")

    first(r"WORKLIST PAGE:\s+http://127\.0\.0\.1:\d+/ +\(development login")  # where to see the alerts
    pain = first(r"-> demo-0001-\w+: pain reported")
    r1 = first(r"RAISED\s+EMERGENCY R1 MSCC_SUSPECTED\s+patient demo-0001")
    assert r1 > pain
    assert "why:" in lines[r1 + 1]
    # The emergency appears within seconds of its event, in simulated time well under an hour.
    stamp = lambda i: int(lines[i][3:5]) * 60 + int(lines[i][6:8])  # noqa: E731 - [T+HH:MM]
    assert stamp(r1) - stamp(pain) <= 30
    overdue = first(r"REMINDER OVERDUE\s+F3 .*patient demo-0001")
    assert stamp(overdue) >= stamp(r1) + 24 * 60 - 30
    first(r"RAISED\s+URGENT\s+R2 .*patient demo-0002")
    first(r"RAISED\s+EMERGENCY R6a .*patient demo-0004")
    first(r"RESOLVED .*R1 .*patient demo-0005")
    first(r"demo-0006-\w+: lab resulted REFUSED 422: /data/unit")
    first(r"DEAD-LETTER \(http\)")
    assert not [line for line in lines if re.search(r"(RAISED|REMINDER).*patient demo-0003", line)]
    # When it stops, the pathway timeliness audit of what happened: the MRI within 24 hours for one of the
    # two suspected MSCCs (demo-0005's MRI came in 6 h), and demo-0001, whose MRI nobody booked, for review.
    audit = first(r"python -m carepath\.audit")
    assert re.search(r"^F3 WHOLE_SPINE_MRI\s+24 h\s+2\s+1\s+1/2 50%", lines[first(r"^F3 WHOLE_SPINE_MRI")])
    breach = first(r"F3 WHOLE_SPINE_MRI: patient demo-0001-\w+, .*still not done")
    assert audit < breach
    assert lines[-1] == "stopped: broker and services."


@pytest.mark.timeout(300)  # up to 120 s to the first alert, then up to 120 s to stop everything
def test_ctrl_c_stops_every_process_it_started(tmp_path: Path) -> None:
    with run_demo(tmp_path) as proc:
        assert proc.stdout is not None
        pids: list[int] = []
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            pids += [int(p) for p in re.findall(r"pid (\d+)", line)]
            if "RAISED" in line or time.monotonic() > deadline:
                break
        assert len(pids) == 5, f"expected the broker, three services and the worklist page, saw pids {pids}"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)  # the audit report, then every process stopped
        assert proc.returncode == 0
        assert "stopped: broker and services." in rest
        assert [p for p in pids if _alive(p)] == []
