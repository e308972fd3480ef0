"""Child processes carepath starts (the embedded broker, services in the dev stack): stopped in order —
SIGTERM, a grace period, then SIGKILL — and never left running when the parent exits, even on an error
path that forgot them."""

from __future__ import annotations

import atexit
import signal
import subprocess
import time
import weakref
from collections.abc import Iterable

_children: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()


def track(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Stop ``proc`` when this interpreter exits, if nobody has stopped it by then."""
    _children.add(proc)
    return proc


@atexit.register
def _stop_children() -> None:
    for proc in list(_children):
        terminate(proc, 5.0)


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def terminate_all(procs: Iterable[subprocess.Popen[bytes] | None], timeout: float) -> None:
    """:func:`terminate` for several processes at once: each is sent SIGTERM, then all get ``timeout`` in
    all to end before those still running are killed (one after another they could take ``timeout`` each:
    a minute for a stack on a busy machine)."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
