"""Phase 5: intake, triage and followup as real processes under sustained HTTP load.

Several clients post the synthetic events to intake in batches (each client owns a share of the
patients and posts them in time order, as separate integration channels would) for a fixed time. When
triage or followup falls more than ``pipeline_max_lag`` events behind intake, the clients wait: the
pipeline runs at the rate it can sustain instead of piling up a backlog. The figures, over the load
window: events accepted per second at intake, clinical events consumed per second by triage and by
followup (their own counters), and end to end = events that had been through both by the end of the
window, per second. Intake's unthrottled rate is the rate before the first wait.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import orjson

from carepath import contracts
from carepath_tools.bench import probes, profile_parts
from carepath_tools.bench.context import Context
from carepath_tools.bench.params import Params
from carepath_tools.bench.stacks import phase_stack, start_pipeline
from carepath_tools.bench.stats import rate, summarise
from carepath_tools.bench.workload import Event, body
from carepath_tools.devstack import Stack

CLINICAL_TYPES = sorted(t for t in contracts.INPUT_TYPES if t != "carepath.escalation.acknowledged.v1")


@dataclass
class Load:
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    first_wait: float | None = None  # seconds into the load when the clients first waited for the pipeline
    accepted_before_wait: int = 0
    waited_s: float = 0.0  # summed over the clients


def shares(events: Sequence[Event], clients: int) -> list[list[Event]]:
    """Split events among clients by patient, keeping each patient's events in order on one client."""
    out: list[list[Event]] = [[] for _ in range(clients)]
    for e in events:
        out[zlib.crc32(e.key) % clients].append(e)
    return out


def run(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    with phase_stack(ctx, "pipeline") as stack:
        assert stack.bootstrap
        start_pipeline(stack, p.ready_timeout_s)
        ctx.say(
            f"intake, triage and followup ready; {p.pipeline_clients} clients posting "
            f"{p.pipeline_batch} events per request for {p.pipeline_seconds:.0f} s "
            f"(waiting whenever a stage is {p.pipeline_max_lag:,} events behind)"
        )
        samplers = {
            name: probes.Sampler(partial(probes.consumed, stack.services[name].url, CLINICAL_TYPES), 0.5)
            for name in ("triage", "followup")
        }
        for sampler in samplers.values():  # counters from 0: the groups start at the end (see phase_stack)
            sampler.start()
        pids = {name: svc.proc.pid if svc.proc else None for name, svc in stack.services.items()}
        meter = probes.CpuMeter(pids | {"broker": stack.broker.pid if stack.broker else None})
        spies = {
            name: profile_parts.Sampler(pid, keep=ctx.phase_dir("pipeline") / f"{name}.stacks.txt").start()
            for name, pid in pids.items()
            if pid
        }
        try:
            meter.start()
            t0 = time.monotonic()
            per_client = shares(ctx.workload.events, p.pipeline_clients)

            def through() -> float:
                return min(s.last for s in samplers.values())

            load = asyncio.run(_post(stack, per_client, p, t0, through))
            t_end = time.monotonic()
            window = t_end - t0
            ctx.say(
                f"intake accepted {load.accepted:,} events in {window:.1f} s; waiting for the stages to drain"
            )
            drained = all(
                sampler.wait_for(load.accepted, p.pipeline_drain_timeout_s) for sampler in samplers.values()
            )
            drain_s = time.monotonic() - t_end
            batches = {name: _batches(stack.services[name].url) for name in samplers}
        finally:
            meter.stop()
            for sampler in samplers.values():
                sampler.stop()
            profiles = {name: spy.stop() for name, spy in spies.items()}
        rss = {
            name: probes.peak_rss_mb(svc.proc.pid if svc.proc else None)
            for name, svc in stack.services.items()
        }
    out: dict[str, Any] = {
        "clients": p.pipeline_clients,
        "events_per_request": p.pipeline_batch,
        "max_lag": p.pipeline_max_lag,
        "window_seconds": round(window, 2),
        "accepted": load.accepted,
        "rejected": load.rejected,
        "retries_503": load.retries,
        "request_failures": load.failures[:5],
        "intake_accepted_per_s": round(rate(load.accepted, window)),
        "intake_unthrottled_per_s": round(
            rate(load.accepted_before_wait, load.first_wait)
            if load.first_wait
            else rate(load.accepted, window)
        ),
        "client_wait_s_mean": round(load.waited_s / p.pipeline_clients, 2),  # waiting for the stages
    }
    request = summarise([x * 1000 for x in load.latencies])
    out["request_ms"] = request.as_dict(1) if request else None
    passed: dict[str, float] = {}
    for name, sampler in samplers.items():
        at_start = _count_at(sampler.samples, t0)
        at_end = _count_at(sampler.samples, t_end)
        passed[name] = at_end - at_start
        out[f"{name}_per_s"] = round(rate(at_end - at_start, window))
        out[f"{name}_lag_at_end"] = int(load.accepted - at_end)
    out["end_to_end_per_s"] = round(rate(min(passed.values()), window))
    # A batch's fixed costs (a fetch, a produce flush, a table flush) are shared by its events: the fewer
    # events a batch, the more each pays.
    out["events_per_batch"] = {
        name: round(batches[name][0] / batches[name][1], 1) if batches[name][1] else None for name in samplers
    }
    out["drained"] = drained
    out["drain_seconds"] = round(drain_s, 2)
    out["peak_rss_mb"] = {k: round(v, 1) if v is not None else None for k, v in rss.items()}
    out["cpu_us_per_event"] = per_event = meter.per_event_us(load.accepted)
    out["profile_us_per_event"] = {
        name: profile_parts.per_event(samples, per_event[name])
        for name, samples in profiles.items()
        if samples and name in per_event
    }
    for name, parts in out["profile_us_per_event"].items():
        ctx.say(f"{name}'s time per event by part (py-spy): " + profile_parts.describe(parts))
    ctx.say(
        f"intake {out['intake_accepted_per_s']:,} accepted/s ({out['intake_unthrottled_per_s']:,}/s before "
        f"waiting), triage {out['triage_per_s']:,}/s, followup {out['followup_per_s']:,}/s, end to end "
        f"{out['end_to_end_per_s']:,}/s; "
        + ("drained" if drained else "NOT drained")
        + f" {drain_s:.1f} s later; events per batch "
        + ", ".join(f"{k} {v}" for k, v in out["events_per_batch"].items())
        + "; peak RSS "
        + ", ".join(f"{k} {v or 0:.0f} MB" for k, v in rss.items())
    )
    total = sum(per_event.values())
    ctx.say(
        "processor time per event accepted: "
        + ", ".join(f"{k} {v:,.0f} us" for k, v in per_event.items())
        + f"; {total:,.0f} us in all, so at most {rate(1e6 * (os.cpu_count() or 1), total):,.0f} events/s "
        "if these processes had every processor to themselves"
    )
    return out


def _batches(url: str) -> tuple[float, float]:
    """(events, batches) a worker has handled: every batch observes its time per event once."""
    text = httpx.get(f"{url}/metrics", timeout=5.0).text
    return (
        probes.counter_total(text, "carepath_events_consumed_total"),
        probes.counter_total(text, "carepath_processing_seconds_count"),
    )


def _count_at(samples: Sequence[tuple[float, float]], t: float) -> float:
    """The counter as last sampled at or before ``t`` (the first sample if none was)."""
    value = samples[0][1] if samples else 0.0
    for ts, c in samples:
        if ts > t:
            break
        value = c
    return value


async def _post(
    stack: Stack, per_client: list[list[Event]], p: Params, t0: float, through: Callable[[], float]
) -> Load:
    load = Load()
    stop_at = t0 + p.pipeline_seconds
    limits = httpx.Limits(max_connections=len(per_client) + 2)
    headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=stack.intake_url, headers=headers, timeout=60, limits=limits
    ) as http:

        async def wait_for_pipeline() -> None:
            while load.accepted - through() > p.pipeline_max_lag and time.monotonic() < stop_at:
                if load.first_wait is None:
                    load.first_wait = time.monotonic() - t0
                    load.accepted_before_wait = load.accepted
                started = time.monotonic()
                await asyncio.sleep(0.05)
                load.waited_s += time.monotonic() - started

        async def client(events: list[Event]) -> None:
            for i in range(0, len(events), p.pipeline_batch):
                await wait_for_pipeline()
                if time.monotonic() >= stop_at:
                    return
                content = body(events[i : i + p.pipeline_batch])
                for _attempt in range(5):
                    started = time.perf_counter()
                    r = await http.post("/v1/events", content=content)
                    load.latencies.append(time.perf_counter() - started)
                    if r.status_code != 503:
                        break
                    load.retries += 1
                    await asyncio.sleep(0.2)
                if r.status_code in (202, 422):
                    answer = orjson.loads(r.content)
                    load.accepted += int(answer["accepted"])
                    load.rejected += int(answer["rejected"])
                else:
                    load.failures.append(f"{r.status_code}: {r.text[:200]}")

        await asyncio.gather(*(client(events) for events in per_client))
    return load
