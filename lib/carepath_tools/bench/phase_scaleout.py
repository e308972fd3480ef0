"""Phase: scale-out under a steady feed on a topic set of 12 partitions
(:mod:`carepath_tools.chaos.scaleout`).

triage and followup start with one worker each; a second of each joins at 1/5 of the feed, a third at
2/5, the newest is stopped with SIGTERM at 3/5 and the next newest killed with SIGKILL at 4/5 (not started
again). Then the same feed through one worker each, never changed. Printed: the comparison (escalation
and reminder ids, webhook deliveries per id), each change's pause, and for each worker count the input
records per second and the workers' processor time per record. Every process shares the machine: on two
cores the figures show the overhead of coordination, not a speed-up.

Always on embedded brokers of its own: a configured cluster's topics have their own partition count.
"""

from __future__ import annotations

from typing import Any

from carepath_tools.bench.context import Context
from carepath_tools.chaos.run import Params as RunParams
from carepath_tools.chaos.scaleout import ROLES, Setup, plan, scale_out


def run(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    params = RunParams(
        events=int(p.scaleout_rate * p.scaleout_seconds),
        patients=100,  # at least; the feed's event count decides
        rate=p.scaleout_rate,
        lead_s=10.0,
        window_s=10.0,
        kills=0,
        seed=p.seed,
        ready_timeout_s=120.0,
        drain_timeout_s=180.0,
    )
    setup = Setup(partitions=p.scaleout_partitions)
    ctx.say(
        f"{setup.partitions} partitions, {params.rate:g} ev/s for {p.scaleout_seconds:g} s: {plan(setup.steps)}, "
        "then the same feed through one worker each"
    )
    outcome = scale_out(params, ctx.phase_dir("scaleout"), setup, say=ctx.say)
    print(outcome.summary, flush=True)
    doc = outcome.document
    for role in ROLES:
        for row in doc["throughput"][role]["by_workers"]:
            ctx.say(
                f"{role} x{row['workers']}: {_num(row['records_per_s'])} records/s, "
                f"{_num(row['cpu_us_per_record'])} µs of processor per record over {row['seconds']:.0f} s"
            )
    figures: dict[str, Any] = {
        key: doc[key]
        for key in (
            "partitions",
            "plan",
            "feed",
            "processors",
            "pause_s",
            "committed_s",
            "pause_s_by_action",
            "throughput",
            "changes",
            "segments",
            "runs",
            "broken",
        )
    }
    figures["comparison"] = {
        k: doc["comparison"][k]
        for k in (
            "escalation_ids",
            "reminder_ids",
            "lost",
            "only_in_faulty",
            "deliveries_per_id",
            "undelivered",
        )
    }
    if outcome.broken:
        figures["failed"] = "; ".join(outcome.broken)
    return figures


def _num(v: float | None) -> str:
    return f"{v:,.0f}" if v is not None else "-"
