"""A fresh broker (and the processes on it) for each phase, always stopped at the end of the phase."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from carepath.bench.context import Context
from carepath.devstack import Service, Stack

PORT_VARS = {
    "intake": "CAREPATH_INTAKE_PORT",
    "triage": "CAREPATH_TRIAGE_PORT",
    "followup": "CAREPATH_FOLLOWUP_PORT",
}


@contextmanager
def phase_stack(
    ctx: Context, phase: str, *, time_scale: float = 1.0, extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """A started broker (embedded and empty unless ``KAFKA_BOOTSTRAP_SERVERS`` is set), no services yet.

    Every service added to the stack and the broker are stopped when the block exits, also on Ctrl-C
    or an error.
    """
    stack = Stack(
        log_dir=ctx.phase_dir(phase),
        time_scale=time_scale,
        extra_env=ctx.group_env(phase) | (extra_env or {}),
    )
    try:
        stack.start_broker()
        yield stack
    finally:
        stack.stop()


def start_service(stack: Stack, name: str, ready_timeout: float, module: str | None = None) -> Service:
    """Start one carepath service (``python -m <name>``) on a free loopback port and wait until ready."""
    svc = stack.add(name, module or name, PORT_VARS.get(name, f"CAREPATH_{name.upper()}_PORT"))
    svc.start()
    svc.wait_ready(ready_timeout)
    return svc


def start_pipeline(stack: Stack, ready_timeout: float) -> None:
    """intake, triage and followup, each its own process, started together and waited for together."""
    for name in ("intake", "triage", "followup"):
        stack.add(name, name, PORT_VARS[name]).start()
    for svc in stack.services.values():
        svc.wait_ready(ready_timeout)
