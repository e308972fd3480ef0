"""A fresh broker (and the processes on it) for each phase, always stopped at the end of the phase."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from carepath import topics
from carepath_tools.bench import kafka_io
from carepath_tools.bench.context import Context
from carepath_tools.devstack import Service, Stack

PORT_VARS = {
    "intake": "CAREPATH_INTAKE_PORT",
    "triage": "CAREPATH_TRIAGE_PORT",
    "followup": "CAREPATH_FOLLOWUP_PORT",
    "naive": "CAREPATH_BENCH_NAIVE_PORT",
}
PIPELINE = ("intake", "triage", "followup")
INPUTS = {
    "triage": (topics.CLINICAL_EVENTS,),
    "followup": (topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.ACKNOWLEDGEMENTS),
}


@contextmanager
def phase_stack(
    ctx: Context, phase: str, *, time_scale: float = 1.0, extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """A started broker (embedded and empty unless ``KAFKA_BOOTSTRAP_SERVERS`` is set), no services yet.

    On a configured cluster the phase's triage and followup consumer groups start at the end of their
    input topics, so that earlier runs' records are not read again.

    Every service added to the stack and the broker are stopped when the block exits, also on Ctrl-C
    or an error.
    """
    stack = Stack(
        log_dir=ctx.phase_dir(phase),
        time_scale=time_scale,
        extra_env=ctx.group_env(phase) | (extra_env or {}),
    )
    try:
        bootstrap = stack.start_broker()
        if ctx.external:  # the phase's workers read only what the phase sends
            for worker, inputs in INPUTS.items():
                kafka_io.commit_at_end(bootstrap, ctx.group_id(phase, worker), inputs)
        yield stack
    finally:
        stack.stop()


def start_service(
    stack: Stack,
    name: str,
    ready_timeout: float,
    module: str | None = None,
    extra: dict[str, str] | None = None,
) -> Service:
    """Start one process (``python -m <module>``) on a free loopback port and wait until it is ready."""
    return start_services(stack, {name: (module or name, extra or {})}, ready_timeout)[name]


def start_pipeline(stack: Stack, ready_timeout: float) -> None:
    """intake, triage and followup, each its own process, started together and waited for together."""
    start_services(stack, {name: (name, {}) for name in PIPELINE}, ready_timeout)


def start_services(
    stack: Stack, wanted: dict[str, tuple[str, dict[str, str]]], ready_timeout: float
) -> dict[str, Service]:
    """Start every process at once, then wait for each.

    A free port is chosen before the process binds it, so another process can take it in between;
    a process that fails for that reason alone is started once more on a new port.
    """

    def launch(name: str) -> Service:
        module, extra = wanted[name]
        port_var = PORT_VARS.get(name) or PORT_VARS.get(module) or f"CAREPATH_{name.upper()}_PORT"
        svc = stack.add(name, module, port_var, extra)
        svc.start()
        return svc

    started = {name: launch(name) for name in wanted}
    for name in wanted:
        try:
            started[name].wait_ready(ready_timeout)
        except RuntimeError as exc:
            if "address already in use" not in str(exc):
                raise
            started[name].stop()
            started[name] = launch(name)
            started[name].wait_ready(ready_timeout)
    return started
