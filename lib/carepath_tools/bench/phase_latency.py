"""Phase 6: escalation latency under a paced load of 1,000 events/s.

A client posts small requests on a fixed schedule. A known share of the events is the pain report that
raises R1 for a new patient whose cancer diagnosis came just before it; the rest raise nothing urgent.
Latency is the broker timestamp of the escalation record minus the broker timestamp of the clinical
event record that raised it (the latest of the escalation's evidence events): both are stamped on this
machine's clock when the record is produced, so it is intake's accept to triage's publish.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from carepath import envelope, topics
from carepath_tools.bench import kafka_io
from carepath_tools.bench.context import Context
from carepath_tools.bench.kafka_io import Record
from carepath_tools.bench.stacks import phase_stack, start_pipeline
from carepath_tools.bench.stats import rate, summarise
from carepath_tools.bench.workload import benign, generate, r1_pair
from carepath_tools.devstack import Stack

RAISED = "carepath.escalation.raised.v1"
COLLECT_TIMEOUT_S = 30.0
WARM_UP_PATIENTS = 40  # about a hundred events of every type
WARM_UP_SETTLE_S = 1.0


@dataclass
class Paced:
    posted: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    request_latencies: list[float] = field(default_factory=list)
    r1_patients: set[str] = field(default_factory=set)
    seconds: float = 0.0


def run(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    n_requests = max(1, round(p.latency_rate * p.latency_seconds / p.latency_request_events))
    r1_every = max(1, round(1 / (p.latency_r1_share * p.latency_request_events)))
    with phase_stack(ctx, "latency") as stack:
        assert stack.bootstrap
        start_pipeline(stack, p.ready_timeout_s)
        reader = kafka_io.TopicReader(stack.bootstrap, [topics.ESCALATIONS])
        try:
            warm = _warm_up(ctx, stack, reader)
            ctx.say(
                f"pipeline ready and warm; offering {p.latency_rate:,.0f} events/s in requests of "
                f"{p.latency_request_events} for {p.latency_seconds:.0f} s (an R1 pair every {r1_every} requests)"
            )
            paced = asyncio.run(_paced(ctx, stack, n_requests, r1_every))
            offered = rate(paced.posted, paced.seconds)
            ctx.say(f"posted {paced.posted:,} events ({offered:,.0f}/s); collecting escalations")
            escalations = reader.read_until(R1Seen(paced.r1_patients), COLLECT_TIMEOUT_S)
        finally:
            reader.close()
        events_reader = kafka_io.TopicReader(stack.bootstrap, [topics.CLINICAL_EVENTS])
        try:
            clinical = events_reader.read_until(OwnEvents(paced.r1_patients), COLLECT_TIMEOUT_S)
        finally:
            events_reader.close()
    latencies, unmatched = join(escalations, clinical, paced.r1_patients)
    out: dict[str, Any] = {
        "offered_per_s": round(offered),
        "seconds": round(paced.seconds, 2),
        "events_posted": paced.posted,
        "warm_up_events": warm,
        "requests": paced.requests,
        "events_per_request": p.latency_request_events,
        "request_failures": paced.failures[:5],
        "r1_expected": len(paced.r1_patients),
        "r1_escalations": len(latencies),
        "unmatched": unmatched,
    }
    summary = summarise(latencies)
    out["latency_ms"] = summary.as_dict(1) if summary else None
    req = summarise(paced.request_latencies)
    out["request_ms"] = (
        {k: (v * 1000 if k != "count" else v) for k, v in req.as_dict(6).items()} if req else None
    )
    if summary:
        ctx.say(
            f"accept -> escalation over {summary.count} R1 escalations: p50 {summary.p50:.1f} ms, "
            f"p95 {summary.p95:.1f} ms, p99 {summary.p99:.1f} ms, max {summary.max:.1f} ms"
        )
    else:
        ctx.say("no escalation could be matched with its clinical event")
    return out


class R1Seen:
    """How many of ``patients`` have an R1 escalation raised among the records read so far."""

    def __init__(self, patients: set[str]) -> None:
        self.patients = patients
        self.seen: set[str] = set()
        self._done = 0

    def __call__(self, records: list[Record]) -> bool:
        for r in records[self._done :]:
            patient = r.key.decode() if r.key else ""
            if patient in self.patients and patient not in self.seen:
                ce = envelope.decode(r.value)
                if ce.get("type") == RAISED and ce["data"]["rule"]["id"] == "R1":
                    self.seen.add(patient)
        self._done = len(records)
        return len(self.seen) >= len(self.patients)


class OwnEvents:
    """True once both events (diagnosis, pain) of every R1 patient have been read."""

    def __init__(self, patients: set[str]) -> None:
        self.patients = patients
        self.found = 0
        self._done = 0

    def __call__(self, records: list[Record]) -> bool:
        self.found += sum(1 for r in records[self._done :] if r.key and r.key.decode() in self.patients)
        self._done = len(records)
        return self.found >= 2 * len(self.patients)


def join(escalations: list[Record], clinical: list[Record], patients: set[str]) -> tuple[list[float], int]:
    """Milliseconds from each R1 escalation's latest evidence record to the escalation record."""
    stamps: dict[str, int] = {}
    for r in clinical:
        if r.key and r.key.decode() in patients:
            stamps[str(envelope.decode(r.value)["id"])] = r.timestamp_ms
    latencies: list[float] = []
    unmatched = 0
    for r in escalations:
        if not r.key or r.key.decode() not in patients:
            continue
        ce = envelope.decode(r.value)
        if ce.get("type") != RAISED or ce["data"]["rule"]["id"] != "R1":
            continue
        found = [stamps[e["event_id"]] for e in ce["data"]["evidence"] if e.get("event_id") in stamps]
        if not found:
            unmatched += 1
            continue
        latencies.append(float(r.timestamp_ms - max(found)))
    return latencies, unmatched


def _warm_up(ctx: Context, stack: Stack, reader: kafka_io.TopicReader) -> int:
    """Every event type once through the whole pipeline before the clock starts (validators, rule paths
    and connections are made ready on first use), ending with one R1 patient; returns the events posted.
    """
    patient = f"lat-{ctx.tag}-warm"
    sample = generate(WARM_UP_PATIENTS, ctx.params.seed, datetime.now(UTC), prefix=f"lat-{ctx.tag}-w")
    events = [envelope.decode(e.value) for e in sample.events]
    events += r1_pair(patient, datetime.now(UTC), random.Random(0))
    r = httpx.post(
        f"{stack.intake_url}/v1/events",
        content=envelope.encode(events),
        headers={"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"},
        timeout=30,
    )
    if r.status_code != 202:
        raise RuntimeError(f"intake refused the warm-up events: {r.status_code} {r.text[:300]}")
    if not R1Seen({patient})(reader.read_until(R1Seen({patient}), COLLECT_TIMEOUT_S)):
        raise RuntimeError("no escalation for the warm-up R1 patient: is triage raising R1?")
    time.sleep(WARM_UP_SETTLE_S)
    return len(events)


async def _paced(ctx: Context, stack: Stack, n_requests: int, r1_every: int) -> Paced:
    p = ctx.params
    rng = random.Random(p.seed)
    result = Paced()
    interval = p.latency_request_events / p.latency_rate
    headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=64)

    def build(k: int) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        events: list[dict[str, Any]] = []
        if k % r1_every == 0:
            patient = f"lat-{ctx.tag}-r{k}"
            result.r1_patients.add(patient)
            events.extend(r1_pair(patient, now, rng))
        while len(events) < p.latency_request_events:
            events.append(benign(f"lat-{ctx.tag}-b{k}-{len(events)}", now, rng))
        return events

    async with httpx.AsyncClient(
        base_url=stack.intake_url, headers=headers, timeout=30, limits=limits
    ) as http:

        async def send(events: list[dict[str, Any]]) -> None:
            started = time.perf_counter()
            r = await http.post("/v1/events", content=envelope.encode(events))
            result.request_latencies.append(time.perf_counter() - started)
            if r.status_code != 202:
                result.failures.append(f"{r.status_code}: {r.text[:200]}")

        tasks = []
        t0 = time.perf_counter()
        for k in range(n_requests):
            delay = t0 + k * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            events = build(k)
            result.posted += len(events)
            result.requests += 1
            tasks.append(asyncio.create_task(send(events)))
        result.seconds = time.perf_counter() - t0 + interval
        await asyncio.gather(*tasks)
    return result
