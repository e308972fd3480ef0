"""Phase 7: reminder lateness, on a fast clock (3600 simulated seconds per real second by default).

Many R1 escalations are opened over a few real seconds (cancer, then new neurological features, for
new patients), each opening follow-up expectations: coordinator contact at 1 h, dexamethasone at 4 h,
whole-spine MRI warned at 12 h and due at 24 h, acknowledgement at 15 min. The run lasts until every
patient's 24 h MRI deadline has passed. Real lateness of a reminder = its broker timestamp minus the real
instant its ``due_at`` corresponds to on the shared scaled clock:
``real = origin + (due_at - origin) / scale``.

The headline counts reminders due at least one real second after the red flag, so that the pipeline
(intake -> triage -> followup, tens of milliseconds) has opened the expectation before it falls due;
at 3600x the 15-minute acknowledgement deadline is only 0.25 real seconds away, and its reminders are
reported separately.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx

from carepath import envelope, topics
from carepath.clock import ScaledClock
from carepath_tools.bench import kafka_io, probes
from carepath_tools.bench.context import Context
from carepath_tools.bench.kafka_io import Record
from carepath_tools.bench.stacks import phase_stack, start_pipeline
from carepath_tools.bench.stats import summarise
from carepath_tools.bench.workload import r1_pair

PAIRS_PER_REQUEST = 50
MRI_DEADLINE = timedelta(hours=24)
MARGIN_S = 2.0  # real seconds past the last MRI deadline that are still observed
SETTLE_S = 1.5  # and then read for this long, so a reminder due at the end has time to arrive


def run(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    scale = p.reminder_scale
    with phase_stack(ctx, "reminders", time_scale=scale) as stack:
        assert stack.bootstrap
        clock = stack.clock
        if not isinstance(clock, ScaledClock):
            raise RuntimeError("the reminder phase needs a scaled clock (time scale other than 1)")
        start_pipeline(stack, p.ready_timeout_s)
        ctx.say(f"pipeline ready at {scale:g}x; opening R1 expectations for {p.reminder_patients:,} patients")
        flagged_at = _open(ctx, stack.intake_url, stack.token, clock)
        last_flag = max(flagged_at.values())
        observe_until = _real(last_flag + MRI_DEADLINE, clock) + MARGIN_S
        ctx.say(
            f"expectations opened; observing until every 24 h MRI deadline has passed "
            f"({observe_until - time.time():.0f} s)"
        )
        reader = kafka_io.TopicReader(stack.bootstrap, [topics.REMINDERS])
        records: list[Record] = []
        try:
            next_report = time.time() + 5
            while time.time() < observe_until + SETTLE_S:
                records.extend(reader.poll(200))
                if time.time() >= next_report:
                    ctx.say(f"{len(records):,} reminders so far")
                    next_report += 5
        finally:
            reader.close()
        backlog = probes.gauge(stack.services["followup"].url, "carepath_timer_backlog")
    out = analyse(records, flagged_at, clock, observe_until)
    out |= {"time_scale": scale, "patients": len(flagged_at), "timer_backlog_at_end": backlog}
    head = out["lateness_s"]
    if head:
        ctx.say(
            f"lateness over {head['count']:,} reminders: p50 {head['p50']:.3f} s, p99 {head['p99']:.3f} s, "
            f"max {head['max']:.3f} s (MRI overdue reminders: {out['f3_overdue']:,} of {len(flagged_at):,}; "
            f"{out['reminders_per_s_mean']:,.0f} reminders/s on average, {out['reminders_per_s_peak']:,} at peak)"
        )
    else:
        ctx.say("no reminder was observed")
    return out


def _real(simulated: datetime, clock: ScaledClock) -> float:
    """The real epoch second at which the scaled clock shows ``simulated``."""
    return clock.origin.timestamp() + (simulated - clock.origin).total_seconds() / clock.scale


def analyse(
    records: list[Record], flagged_at: dict[str, datetime], clock: ScaledClock, observe_until: float
) -> dict[str, Any]:
    headline: list[float] = []
    early: list[float] = []
    f3: list[float] = []
    reported: list[float] = []
    kinds: Counter[str] = Counter()
    f3_overdue = 0
    for r in records:
        patient = r.key.decode() if r.key else ""
        if patient not in flagged_at:
            continue
        data = envelope.decode(r.value)["data"]
        due = envelope.parse_time(data["due_at"])
        due_real = _real(due, clock)
        if due_real > observe_until:
            continue
        lateness = r.timestamp_ms / 1000 - due_real
        rule = data["expectation"]["id"]
        kinds[f"{rule} {data['kind']} {data['level']}"] += 1
        reported.append(float(data["lateness_seconds"]) / clock.scale)
        if (due - flagged_at[patient]).total_seconds() >= clock.scale:
            headline.append(lateness)
        else:
            early.append(lateness)
        if rule == "F3":
            f3.append(lateness)
            f3_overdue += data["kind"] == "overdue" and data["level"] == 1
    out: dict[str, Any] = {"reminders": sum(kinds.values()), "by_expectation": dict(sorted(kinds.items()))}
    per_second = Counter(r.timestamp_ms // 1000 for r in records if r.key and r.key.decode() in flagged_at)
    out["reminders_per_s_peak"] = max(per_second.values(), default=0)
    out["reminders_per_s_mean"] = round(
        sum(per_second.values()) / (max(per_second) - min(per_second) + 1) if per_second else 0.0, 1
    )
    for name, values in (
        ("lateness_s", headline),
        ("lateness_due_within_1s_s", early),
        ("f3_lateness_s", f3),
        ("reported_lateness_real_s", reported),
    ):
        s = summarise(values)
        out[name] = s.as_dict(4) if s else None
    out["f3_overdue"] = f3_overdue
    return out


def _open(ctx: Context, intake_url: str, token: str, clock: ScaledClock) -> dict[str, datetime]:
    """Post R1 patients evenly over the spread; returns each patient's red-flag (clinical) time."""
    p = ctx.params
    rng = random.Random(p.seed)
    requests = max(1, math.ceil(p.reminder_patients / PAIRS_PER_REQUEST))
    interval = p.reminder_spread_s / requests
    flagged_at: dict[str, datetime] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=intake_url, headers=headers, timeout=30) as http:
        t0 = time.monotonic()
        for k in range(requests):
            delay = t0 + k * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            events = []
            for j in range(min(PAIRS_PER_REQUEST, p.reminder_patients - k * PAIRS_PER_REQUEST)):
                patient = f"rem-{ctx.tag}-{k}-{j}"
                now = clock.now()
                events.extend(r1_pair(patient, now, rng))
                flagged_at[patient] = envelope.parse_time(envelope.iso(now))
            r = http.post("/v1/events", content=envelope.encode(events))
            if r.status_code != 202:
                raise RuntimeError(f"intake refused R1 events: {r.status_code} {r.text[:300]}")
    return flagged_at
