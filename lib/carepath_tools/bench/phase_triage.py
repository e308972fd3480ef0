"""Phase 4: one triage worker (``python -m triage``) draining a backlog of every synthetic patient.

The same backlog is drained twice, by a worker reading through Faust's agents and streams one event at
a time (``CAREPATH_STREAM_SHELL=events``, the shell as it was) and by the default worker, which takes a
fetch at a time (:mod:`carepath.fetch_batches`), each in a consumer group of its own.
The backlog is loaded into ``clinical.events`` before the workers start; its rate is read from its own
``carepath_events_consumed_total`` while it drains, and its peak memory (VmHWM) once every patient is
in its state table. The triage core is then run in-process over the same events, without a broker, as
the reference for what the worker's shell and the broker cost.
"""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime
from typing import Any

from carepath import collector, topics
from carepath.settings import CommonSettings
from carepath_tools.bench import kafka_io, probes, profile_parts
from carepath_tools.bench.context import Context
from carepath_tools.bench.stacks import phase_stack, start_service
from carepath_tools.bench.stats import drain_rate, partial_rate, rate
from carepath_tools.bench.workload import Event

CORE_BATCH = 1000  # as the worker's default CAREPATH_TRIAGE_BATCH_MAX
CORE_PASSES = 3
SHELLS = {
    "events": "through Faust's agents and streams, one event at a time (CAREPATH_STREAM_SHELL=events)",
    "batch": "a fetch at a time (the default shell)",
}


def run(ctx: Context) -> dict[str, Any]:
    events = ctx.workload.events
    n = len(events)
    out: dict[str, Any] = {"events": n}
    with phase_stack(ctx, "triage") as stack:
        assert stack.bootstrap
        seconds = kafka_io.produce(stack.bootstrap, topics.CLINICAL_EVENTS, events)
        ctx.say(
            f"backlog of {n:,} events for {ctx.workload.patients:,} patients loaded "
            f"({rate(n, seconds):,.0f}/s)"
        )
        # The same backlog twice, each worker in a consumer group (and so a state table) of its own:
        # first through Faust's agents and streams (the worker as it was), then a fetch at a time.
        shells = {}
        for shell in ("events", "batch"):
            shells[shell] = _drain(ctx, stack, events, shell)
    out |= shells["batch"]
    out["events_shell"] = shells["events"]
    out |= core_rate(ctx, events)
    return out


def _drain(ctx: Context, stack: Any, events: list[Event], shell: str) -> dict[str, Any]:
    n = len(events)
    group = ctx.group_id("triage" if shell == "batch" else f"triage-{shell}", "triage")
    extra = {"CAREPATH_STREAM_SHELL": shell, "CAREPATH_TRIAGE_GROUP_ID": group}
    ctx.say(f"starting one triage worker reading {SHELLS[shell]}")
    svc = start_service(stack, f"triage-{shell}", ctx.params.ready_timeout_s, module="triage", extra=extra)
    ctx.say("worker ready; draining")
    pid = svc.proc.pid if svc.proc else None
    meter = probes.CpuMeter({"triage": pid, "broker": stack.broker.pid if stack.broker else None})
    sampler = probes.Sampler(lambda: probes.consumed(svc.url)).start()
    stacks = ctx.phase_dir("triage") / f"triage-{shell}.stacks.txt"
    spy = profile_parts.Sampler(pid, keep=stacks).start() if pid else None
    meter.start()
    target = n  # its consumer group starts where this backlog does (see phase_stack)
    try:
        complete = sampler.wait_for(
            target,
            ctx.params.drain_timeout_s,
            lambda c: ctx.say(f"{c:,.0f} of {n:,} consumed"),
        )
    finally:
        sampler.stop()
        meter.stop()
        samples = spy.stop() if spy else None
    rss = probes.peak_rss_mb(pid)
    escalations = probes.gauge(svc.url, "carepath_escalations_total")
    svc.stop()
    drained = drain_rate(sampler.samples, target)
    per_s, span = drained if drained else partial_rate(sampler.samples)
    consumed = int(sampler.last)
    in_state = ctx.workload.patients if complete else len({e.key for e in events[:consumed]})
    ctx.say(
        f"one worker ({shell}): {per_s:,.0f} events/s over {span:.1f} s, {consumed:,} of {n:,} consumed, "
        f"peak RSS {rss or 0:.0f} MB with {in_state:,} patients in state"
        + ("" if complete else f" (NOT drained within {ctx.params.drain_timeout_s:.0f} s)")
    )
    cpu = meter.per_event_us(consumed)
    ctx.say("processor time per event: " + profile_parts.describe(cpu))
    parts = profile_parts.per_event(samples, cpu["triage"]) if samples and "triage" in cpu else {}
    if parts:
        ctx.say("triage worker's time per event by part (py-spy): " + profile_parts.describe(parts))
    elif spy is not None and spy.error:
        ctx.say(f"no profile: {spy.error}")
    return {
        "shell": shell,
        "consumed": consumed,
        "complete": complete,
        "seconds": round(span, 2),
        "worker_per_s": round(per_s),
        "patients_in_state": in_state,
        "peak_rss_mb": round(rss, 1) if rss is not None else None,
        "escalations_published": int(escalations),
        "cpu_us_per_event": cpu,
        "profile_us_per_event": parts,
        "profile_samples": sum(samples.values()) if samples else 0,
    }


def core_rate(ctx: Context, events: list[Event]) -> dict[str, Any]:
    """``triage.batch.run_batch`` in this process over the same events, state in a dict, no broker.

    :data:`CORE_PASSES` passes, each from empty state; the figure is the median pass (a pass of a few
    seconds on a shared machine can be slowed by a third by others' work; every pass is reported).
    """
    from carepath.resources import pathways_dir
    from triage.batch import Incoming, run_batch
    from triage.core import load_pathway

    # The pathway the workers load by default (CAREPATH_PATHWAY_DIR unset). Not through TriageSettings:
    # the bench's own process is not a configured service, and production settings refuse its plaintext
    # connection to the embedded broker.
    pathway = load_pathway(pathways_dir() / "mscc")
    now = datetime.now(UTC)
    stamp = time.time()
    passes: list[tuple[float, int, int, int, float]] = []  # seconds, events, escalations, failures, state
    # The bench's own objects (the workload, earlier phases' results) go to the collector's permanent
    # generation, so that its collections while the core runs look only at what the core allocates, as
    # in a worker (which holds no workload), and not at every object of this process; and the collector
    # runs with a worker's thresholds (CommonSettings.gc_thresholds, carepath.collector), not Python's.
    # The batches, as the worker hands them over, are made before the passes: what is timed is the core.
    batches = [
        [Incoming(e.key, e.value, stamp) for e in events[i : i + CORE_BATCH]]
        for i in range(0, len(events), CORE_BATCH)
    ]
    gc.freeze()
    thresholds = gc.get_threshold()
    collector.tune(CommonSettings.model_fields["gc_thresholds"].default)
    try:
        for _ in range(CORE_PASSES):
            states: dict[bytes, bytes] = {}
            done = escalations = failures = 0
            started = time.perf_counter()
            for batch in batches:
                result = run_batch(batch, states.get, now, pathway)
                states.update(result.states)
                done += len(batch)
                escalations += len(result.outgoing)
                failures += len(result.failures)
                if time.perf_counter() - started > ctx.params.core_max_s:
                    break
            seconds = time.perf_counter() - started
            mean_state = sum(len(v) for v in states.values()) / len(states) if states else 0.0
            passes.append((seconds, done, escalations, failures, mean_state))
            del states
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    rates = [rate(p[1], p[0]) for p in passes]  # in the order the passes ran
    median = sorted(range(len(passes)), key=rates.__getitem__)[len(passes) // 2]
    per_s = rates[median]
    _, done, escalations, failures, state_bytes = passes[median]
    us = [round(1e6 / r, 1) if r else None for r in rates]
    ctx.say(
        f"triage core in-process: {per_s:,.0f} events/s, median of {len(passes)} passes (µs per event: "
        f"{', '.join(str(u) for u in us)}; {done:,} events, {escalations:,} escalations, {failures} "
        f"failures, {state_bytes:.0f} bytes of state per patient)"
    )
    return {
        "core_events": done,
        "core_per_s": round(per_s),
        "core_us_per_event": us[median],
        "core_passes_us_per_event": us,
        "core_escalations": escalations,
        "core_failures": failures,
        "core_state_bytes_per_patient": round(state_bytes),
    }
