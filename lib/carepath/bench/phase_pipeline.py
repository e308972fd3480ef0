"""Phase 5: intake, triage and followup as real processes under sustained HTTP load.

Several clients post the synthetic events to intake in batches (each client owns a share of the
patients and posts them in time order, as separate integration channels would), for a fixed time. The
figures: events accepted per second at intake, and how fast triage and followup had consumed every
accepted clinical event (from their own counters), counted from the first request.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from carepath import contracts
from carepath.bench import probes
from carepath.bench.context import Context
from carepath.bench.stacks import phase_stack, start_pipeline
from carepath.bench.stats import rate, summarise
from carepath.bench.workload import Event, body
from carepath.devstack import Stack

CLINICAL_TYPES = sorted(t for t in contracts.INPUT_TYPES if t != "carepath.escalation.acknowledged.v1")


@dataclass
class Load:
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def shares(events: Sequence[Event], clients: int) -> list[list[Event]]:
    """Split events among clients by patient, keeping each patient's events in order on one client."""
    out: list[list[Event]] = [[] for _ in range(clients)]
    for e in events:
        out[zlib.crc32(e.key) % clients].append(e)
    return out


def run(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    with phase_stack(ctx, "pipeline") as stack:
        start_pipeline(stack, p.ready_timeout_s)
        ctx.say(
            f"intake, triage and followup ready; {p.pipeline_clients} clients posting "
            f"{p.pipeline_batch} events per request for {p.pipeline_seconds:.0f} s"
        )
        triage_url, followup_url = stack.services["triage"].url, stack.services["followup"].url
        samplers = {
            "triage": probes.Sampler(lambda: probes.consumed(triage_url, CLINICAL_TYPES), 0.5).start(),
            "followup": probes.Sampler(lambda: probes.consumed(followup_url, CLINICAL_TYPES), 0.5).start(),
        }
        try:
            t0 = time.monotonic()
            load = asyncio.run(_post(stack, shares(ctx.workload.events, p.pipeline_clients), p, t0))
            t_end = time.monotonic()
            post_s = t_end - t0
            ctx.say(
                f"intake accepted {load.accepted:,} events in {post_s:.1f} s; waiting for triage and followup"
            )
            for name, sampler in samplers.items():
                if not sampler.wait_for(load.accepted, p.pipeline_drain_timeout_s):
                    ctx.say(f"{name} did not consume every event within {p.pipeline_drain_timeout_s:.0f} s")
        finally:
            for sampler in samplers.values():
                sampler.stop()
        rss = {
            name: probes.peak_rss_mb(svc.proc.pid if svc.proc else None)
            for name, svc in stack.services.items()
        }
    out: dict[str, Any] = {
        "clients": p.pipeline_clients,
        "events_per_request": p.pipeline_batch,
        "post_seconds": round(post_s, 2),
        "accepted": load.accepted,
        "rejected": load.rejected,
        "retries_503": load.retries,
        "request_failures": load.failures[:5],
        "intake_accepted_per_s": round(rate(load.accepted, post_s)),
    }
    request = summarise(load.latencies)
    if request:
        out["request_ms"] = {k: (v * 1000 if k != "count" else v) for k, v in request.as_dict(6).items()}
    done_at: dict[str, float | None] = {}
    for name, sampler in samplers.items():
        done = next((t for t, c in sampler.samples if c >= load.accepted > 0), None)
        done_at[name] = done
        at_end = max((c for t, c in sampler.samples if t <= t_end), default=0.0)
        out[f"{name}_lag_at_end_of_load"] = int(load.accepted - at_end)
        out[f"{name}_per_s"] = round(rate(load.accepted, done - t0)) if done else None
    finished = [t for t in done_at.values()]
    if all(t is not None for t in finished):
        out["end_to_end_per_s"] = round(rate(load.accepted, max(t for t in finished if t is not None) - t0))
    else:
        out["end_to_end_per_s"] = None
    out["peak_rss_mb"] = {k: round(v, 1) if v is not None else None for k, v in rss.items()}
    ctx.say(
        f"intake {out['intake_accepted_per_s']:,} accepted/s; all consumed at triage "
        f"{out['triage_per_s'] or 0:,}/s, followup {out['followup_per_s'] or 0:,}/s; end to end "
        f"{out['end_to_end_per_s'] or 0:,}/s; peak RSS "
        + ", ".join(f"{k} {v or 0:.0f} MB" for k, v in rss.items())
    )
    return out


async def _post(stack: Stack, per_client: list[list[Event]], p: Any, t0: float) -> Load:
    load = Load()
    stop_at = t0 + p.pipeline_seconds
    limits = httpx.Limits(max_connections=len(per_client) + 2)
    headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=stack.intake_url, headers=headers, timeout=60, limits=limits
    ) as http:

        async def client(events: list[Event]) -> None:
            for i in range(0, len(events), p.pipeline_batch):
                if time.monotonic() >= stop_at:
                    return
                chunk = events[i : i + p.pipeline_batch]
                content = body(chunk)
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
