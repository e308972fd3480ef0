"""Phase 3: the naive baseline, a one-event-per-iteration Faust stage draining a pre-loaded backlog.

Its rate is read from the output topic: the records it forwarded, between the broker timestamps of the
first and the last one (so start-up and group join do not count).

The worker is started on empty topics and the backlog loaded once its web server answers, so that its
processor time is read over the group join and the drain, not after the work is done (the backlog loads
at about ten times the rate the stage drains it).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from carepath_tools.bench import kafka_io, probes
from carepath_tools.bench.context import Context
from carepath_tools.bench.probes import peak_rss_mb
from carepath_tools.bench.stacks import PORT_VARS, phase_stack
from carepath_tools.bench.stats import rate
from carepath_tools.devstack import Service

PARTITIONS = 4


def run(ctx: Context) -> dict[str, Any]:
    events = ctx.workload.events[: ctx.params.naive_events]
    n = len(events)
    source, sink = f"bench.naive.in.{ctx.tag}", f"bench.naive.out.{ctx.tag}"
    with phase_stack(ctx, "naive") as stack:
        assert stack.bootstrap
        bootstrap = stack.bootstrap
        kafka_io.create_topic(bootstrap, source, PARTITIONS)
        kafka_io.create_topic(bootstrap, sink, PARTITIONS)
        reader = kafka_io.TopicReader(bootstrap, [sink])
        try:
            svc = stack.add(
                "naive",
                "carepath_tools.bench.naive_worker",
                PORT_VARS["naive"],
                {
                    "CAREPATH_BENCH_NAIVE_SOURCE": source,
                    "CAREPATH_BENCH_NAIVE_SINK": sink,
                    "CAREPATH_BENCH_NAIVE_GROUP_ID": ctx.group_id("naive", "naive"),
                },
            )
            svc.start()
            _wait_answering(svc, ctx.params.ready_timeout_s)
            meter = probes.CpuMeter({"naive": svc.proc.pid if svc.proc else None}).start()
            seconds = kafka_io.produce(bootstrap, source, events)
            ctx.say(
                f"naive worker started; backlog of {n:,} events loaded ({rate(n, seconds):,.0f}/s); draining"
            )
            first = last = None
            count = 0
            deadline = time.monotonic() + ctx.params.drain_timeout_s
            next_report = time.monotonic() + 5
            while count < n and time.monotonic() < deadline:
                got = reader.poll(200)
                if got and first is None:
                    ctx.say("first event forwarded")
                for rec in got:
                    count += 1
                    first = rec.timestamp_ms if first is None else min(first, rec.timestamp_ms)
                    last = rec.timestamp_ms if last is None else max(last, rec.timestamp_ms)
                if time.monotonic() >= next_report:
                    ctx.say(f"{count:,} of {n:,} forwarded")
                    next_report += 5
            meter.stop()
            rss = peak_rss_mb(svc.proc.pid if svc.proc else None)
        finally:
            reader.close()
            if ctx.external:  # an embedded broker goes with everything on it
                for service in stack.services.values():
                    service.stop()  # before its topics go
                kafka_io.delete_topics(bootstrap, [source, sink])
    span_s = (last - first) / 1000 if first is not None and last is not None else 0.0
    drained = rate(count - 1, span_s) if count > 1 else 0.0
    ctx.say(
        f"naive stage: {drained:,.0f} events/s ({count:,} of {n:,} forwarded in {span_s:.1f} s), "
        f"{meter.per_event_us(count).get('naive', 0):,.0f} us of processor time per event"
    )
    return {
        "events": n,
        "forwarded": count,
        "complete": count >= n,
        "seconds": round(span_s, 2),
        "drained_per_s": round(drained),
        "peak_rss_mb": round(rss, 1) if rss is not None else None,
        "cpu_us_per_event": meter.per_event_us(count),
    }


def _wait_answering(svc: Service, timeout: float) -> None:
    """Until the worker's web server answers at all (its app started), whatever its readiness says."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not svc.running():
            raise RuntimeError(f"the naive worker exited during start-up; see {svc.log_path}")
        try:
            httpx.get(f"{svc.url}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the naive worker did not answer in {timeout:.0f} s; see {svc.log_path}")
