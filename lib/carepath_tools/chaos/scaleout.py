"""Scale-out under a steady feed: triage and followup go from one worker each to two and three, then one is
stopped with SIGTERM and another killed with SIGKILL (3 -> 2 -> 1); the same feed through one worker each,
never changed, is the reference. ``make bench`` runs it
(``python -m carepath_tools.bench --phases scaleout``), ``tests/e2e/test_scaleout.py`` is the short version.

Both runs use a topic set of :attr:`Setup.partitions` partitions (12: one, two, three and four workers each
get an equal share) on a broker of their own, the chaos stack (:mod:`carepath_tools.chaos.run`: intake, the
workers, the notifier delivering to a webhook on 127.0.0.1, one steered clock per run) and the chaos feed
(:mod:`carepath_tools.chaos.feed`). The changes, their pauses and the throughput between them are measured
from outside (:mod:`carepath_tools.chaos.schedule`). Once the observed timeline is over (past the cutoff of
the ids compared) each run's clock stands still while it drains, so the notifier's last deliveries are not
chased by deadlines nothing compares.

Promised (any broken one is listed in :attr:`Outcome.broken`): the promises of
:mod:`carepath_tools.chaos.compare` with the reference as the fault-free run - the same escalation ids and reminder ids, none only in the
scale-out run, every published id delivered to the webhook exactly once (the notifier is never stopped, so
no delivery is in doubt), both runs drained - and every change over: the new worker ready, the stopped one
gone (a SIGTERMed worker exits by itself), its group resumed, the worker counts as planned.

Reported: each change's pause (median, max), and each role's input records per second and processor time
per record for each worker count. Every process shares the machine's processors: on two cores, more
workers add coordination (group membership, heartbeats, a fetch loop each, changelog reading at every
rebalance) and no processor, so the figures show that overhead, not a speed-up.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from carepath import topics
from carepath_tools.chaos import feed as feeds
from carepath_tools.chaos.compare import Comparison, compare, emptied_cell
from carepath_tools.chaos.run import Output, Params, run
from carepath_tools.chaos.schedule import SCALE_OUT, START, Segment, Step, pauses

ROLES = ("triage", "followup")
REFERENCE = "reference"
SCALED = "scale-out"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Setup:
    partitions: int = 12
    steps: tuple[Step, ...] = SCALE_OUT
    min_segment_s: float = 4.0  # a step waits until its roles have run this long since the last change
    # Both runs at once (shorter; the reference's figures then share the machine with the scale-out run).
    parallel: bool = False


@dataclass
class Outcome:
    comparison: Comparison
    reference: Output
    scaled: Output
    broken: list[str]
    summary: str
    document: dict[str, Any]
    elapsed_s: float = field(default=0.0)


@contextmanager
def partitions(count: int) -> Iterator[None]:
    """This process (and every stack it starts) on topics of ``count`` partitions; restored afterwards."""
    before = os.environ.get(topics.PARTITIONS_VARIABLE)
    os.environ[topics.PARTITIONS_VARIABLE] = str(count)
    topics.catalogue.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(topics.PARTITIONS_VARIABLE, None)
        else:
            os.environ[topics.PARTITIONS_VARIABLE] = before
        topics.catalogue.cache_clear()


def scale_out(params: Params, out: Path, setup: Setup = Setup(), say: Say = print) -> Outcome:
    """The scale-out run first (the machine freshest), then the reference; or both at once."""
    started = time.monotonic()
    feed = params.feed()
    say(
        f"feed: {feed.events:,} events, {feed.patients:,} patients, {feed.duration_s:.0f} s at "
        f"{params.rate:g} ev/s; {setup.partitions} partitions; clock {params.scale:g}x"
    )
    one_each = dict.fromkeys(ROLES, 1)
    with partitions(setup.partitions):
        jobs: dict[str, tuple[Step, ...]] = {SCALED: setup.steps, REFERENCE: ()}
        outputs: dict[str, Output] = {}
        failures: dict[str, BaseException] = {}

        def go(name: str) -> None:
            try:
                outputs[name] = run(
                    params,
                    feed,
                    out / name,
                    faulty=False,
                    tag=name,
                    say=say,
                    workers=one_each,
                    steps=jobs[name],
                    min_segment_s=setup.min_segment_s,
                    name=name,
                    embedded=True,
                    hold_clock_at_end=True,
                )
            except BaseException as exc:
                failures[name] = exc

        if setup.parallel:
            threads = [threading.Thread(target=go, args=(n,), name=f"scale-{n}") for n in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for name in jobs:
                go(name)
                if failures:
                    break
        if failures:
            name, exc = next(iter(failures.items()))
            raise RuntimeError(f"{name} run failed: {type(exc).__name__}: {exc}") from exc
    reference, scaled = outputs[REFERENCE], outputs[SCALED]
    comparison = compare(reference, scaled)
    broken = comparison.broken + _schedule_broken(scaled, setup)
    elapsed = time.monotonic() - started
    doc = _document(params, setup, feed, comparison, reference, scaled, broken, elapsed)
    text = summary(doc)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    return Outcome(comparison, reference, scaled, broken, text, doc, elapsed)


def planned_workers(steps: tuple[Step, ...], role: str, start: int = 1) -> list[int]:
    """The role's worker count after each of its changes, as planned."""
    counts, n = [], start
    for step in steps:
        if role in step.roles:
            n += 1 if step.action == START else -1
            counts.append(n)
    return counts


def plan(steps: tuple[Step, ...]) -> str:
    """``triage and followup 1 -> 2 -> 3 -> 2 (SIGTERM) -> 1 (SIGKILL)``"""
    roles = list(dict.fromkeys(r for s in steps for r in s.roles)) or list(ROLES)
    parts, n = ["1"], 1
    for step in steps:
        n += 1 if step.action == START else -1
        parts.append(str(n) if step.action == START else f"{n} ({step.action.upper()})")
    return f"{' and '.join(roles)} {' -> '.join(parts)}"


def _schedule_broken(scaled: Output, setup: Setup) -> list[str]:
    broken = []
    if scaled.schedule_error:
        broken.append(f"schedule: {scaled.schedule_error}")
    for c in scaled.changes:
        if c.error or c.resumed_s is None:
            broken.append(f"step {c.n} {c.role} {c.action} {c.worker}: {c.error or 'did not resume'}")
    for role in ROLES:
        seen = [c.workers for c in scaled.changes if c.role == role]
        if seen != planned_workers(setup.steps, role):
            broken.append(f"{role}: worker counts {seen}, planned {planned_workers(setup.steps, role)}")
    return broken


def by_workers(segments: list[Segment], role: str) -> list[dict[str, Any]]:
    """The role's segments summed by worker count: seconds, records per second, processor time per record."""
    rows = []
    for n in sorted({s.workers for s in segments if s.role == role}):
        mine = [s for s in segments if s.role == role and s.workers == n]
        seconds = sum(s.seconds for s in mine)
        records = sum(s.records for s in mine)
        cpu = sum(s.cpu_s for s in mine)
        rows.append(
            {
                "workers": n,
                "segments": len(mine),
                "seconds": round(seconds, 1),
                "records": records,
                "records_per_s": round(records / seconds, 1) if seconds > 0 else None,
                "cpu_us_per_record": round(cpu / records * 1e6, 1) if records else None,
            }
        )
    return rows


def _segment(s: Segment) -> dict[str, Any]:
    return asdict(s) | {
        "records_per_s": round(s.per_s, 1) if s.per_s is not None else None,
        "cpu_us_per_record": round(s.cpu_us, 1) if s.cpu_us is not None else None,
    }


def _document(
    params: Params,
    setup: Setup,
    feed: feeds.Feed,
    c: Comparison,
    reference: Output,
    scaled: Output,
    broken: list[str],
    elapsed: float,
) -> dict[str, Any]:
    all_pauses = [x.resumed_s for x in scaled.changes if x.resumed_s is not None]
    return {
        "params": asdict(params),
        "partitions": setup.partitions,
        "steps": [asdict(s) for s in setup.steps],
        "plan": plan(setup.steps),
        "parallel": setup.parallel,
        "processors": os.cpu_count(),
        "feed": {
            "events": feed.events,
            "patients": feed.patients,
            "duration_s": feed.duration_s,
            "rate": params.rate,
        },
        "comparison": c.as_dict(),
        "changes": [asdict(x) for x in scaled.changes],
        "pause_s": {role: pauses([x for x in scaled.changes if x.role == role]) for role in ROLES}
        | {"all": pauses(scaled.changes)},
        "committed_s": pauses(scaled.changes, "committed_s"),
        "pause_s_by_action": {
            action: pauses([x for x in scaled.changes if x.action == action])
            for action in dict.fromkeys(x.action for x in scaled.changes)
        },
        "throughput": {
            role: {
                "reference": by_workers(reference.segments, role),
                "by_workers": by_workers(scaled.segments, role),
            }
            for role in ROLES
        },
        "segments": {run.name: [_segment(s) for s in run.segments] for run in (reference, scaled)},
        "runs": {
            run.name: {
                "elapsed_s": round(run.elapsed_s, 1),
                "posted_events": run.posted_events,
                "resends": run.post_retries,
                "drained": run.drained,
                "clock_held_s": run.extra.get("clock_held_s"),
                "followup_states_emptied": run.extra.get("followup_states_emptied"),
                "republished": run.republished,
                "logs": str(run.log_dir),
            }
            for run in (reference, scaled)
        },
        "pause_median_all_s": round(statistics.median(all_pauses), 2) if all_pauses else None,
        "broken": broken,
        "elapsed_s": round(elapsed, 1),
    }


def coordination_note(processors: int | None) -> str:
    cores = f"{processors} processors" if processors else "this machine's processors"
    return (
        f"On {cores}, shared by the broker, intake, the notifier and every worker, another worker adds "
        "coordination (group membership, heartbeats, a fetch loop of its own, changelog reading at each "
        "rebalance) and no processor: these figures show the overhead of coordination, not a speed-up."
    )


def summary(doc: Mapping[str, Any]) -> str:
    """The comparison, each change with its pause, and throughput by worker count, as text."""
    c = doc["comparison"]
    lines = [
        f"scale-out on {doc['partitions']} partitions: {doc['feed']['events']:,} events for "
        f"{doc['feed']['patients']:,} patients at {doc['feed']['rate']:g} ev/s "
        f"({doc['feed']['duration_s']:.0f} s); {doc['plan']}, against one worker each throughout"
        + (" (both runs at once)" if doc["parallel"] else ""),
        "",
    ]
    ref, out = REFERENCE, SCALED

    def per_id(run: str) -> str:
        return ", ".join(f"{n}x: {ids:,}" for n, ids in sorted(c["deliveries_per_id"][run].items())) or "-"

    rows = [
        ("", "promised", "reference", "scale-out"),
        (
            "escalation ids",
            "equal",
            f"{c['escalation_ids']:,}",
            f"lost {c['lost']['escalations']}, only here {c['only_in_faulty']['escalations']}",
        ),
        (
            "reminder ids (due by the cutoff)",
            "equal",
            f"{c['reminder_ids']:,}",
            f"lost {c['lost']['reminders']}, only here {c['only_in_faulty']['reminders']}",
        ),
        ("webhook deliveries per id", "1", per_id(ref), per_id(out)),
        ("published, never delivered", "0", str(c["undelivered"][ref]), str(c["undelivered"][out])),
        (
            "raw duplicate publications",
            "reported",
            _dups(c["raw_duplicates"][ref]),
            _dups(c["raw_duplicates"][out]),
        ),
        (
            "followup states written empty",
            "0",
            emptied_cell(doc["runs"][ref]["followup_states_emptied"]),
            emptied_cell(doc["runs"][out]["followup_states_emptied"]),
        ),
        (
            "drained",
            "yes",
            "yes" if doc["runs"][ref]["drained"] else "NO",
            "yes" if doc["runs"][out]["drained"] else "NO",
        ),
        (
            "clock held (pipeline stalled)",
            "reported",
            f"{doc['runs'][ref]['clock_held_s']:.0f} s",
            f"{doc['runs'][out]['clock_held_s']:.0f} s",
        ),
        ("run time", "", f"{doc['runs'][ref]['elapsed_s']:.0f} s", f"{doc['runs'][out]['elapsed_s']:.0f} s"),
    ]
    lines += _table(rows)
    lines += ["", "membership changes (scale-out run; seconds after the feed started, or from the change)"]
    change_rows = [
        (
            "step",
            "role",
            "action",
            "worker",
            "at",
            "workers",
            "pause",
            "rebalanced",
            "committed",
            "started/stopped",
        )
    ]
    for x in doc["changes"]:
        change_rows.append(
            (
                str(x["n"]),
                x["role"],
                x["action"],
                x["worker"],
                f"{x['at_s']:.1f}",
                str(x["workers"]),
                _num(x["resumed_s"]) + ("" if x["observed"] else "*"),
                _num(x["rebalanced_s"]),
                _num(x["committed_s"]),
                _num(x["started_s"] if x["action"] == START else x["stopped_s"]),
            )
        )
    lines += _table(change_rows)
    if not all(x["observed"] for x in doc["changes"]):
        lines.append(
            "  * no poll saw the group rebalancing (polls far apart on a starved machine): a start's pause is "
            "counted from the poll before its worker answered ready (an upper bound), a stop's ends once its "
            "partitions were taken over"
        )
    for x in doc["changes"]:
        if x["error"]:
            lines.append(f"  step {x['n']} {x['role']}: {x['error']}")
    lines.append("")
    parts = [f"{k} {_stats(v)}" for k, v in doc["pause_s"].items()]
    lines.append(
        "rebalance pause (a change -> every worker ready and what was waiting processed): " + "; ".join(parts)
    )
    lines.append("  by action: " + "; ".join(f"{k} {_stats(v)}" for k, v in doc["pause_s_by_action"].items()))
    lines.append(f"  until the group's committed offsets caught up too: {_stats(doc['committed_s'])}")
    lines += [
        "",
        "throughput by worker count (input records processed per second; processor time of the role's "
        "workers per record)",
    ]
    t_rows = [("role", "workers", "run", "seconds", "records/s", "µs/record")]
    for role in ROLES:
        for label, key in (("reference", "reference"), ("scale-out", "by_workers")):
            for r in doc["throughput"][role][key]:
                t_rows.append(
                    (
                        role,
                        str(r["workers"]),
                        label,
                        f"{r['seconds']:.1f}",
                        _num(r["records_per_s"], ".0f"),
                        _num(r["cpu_us_per_record"], ".0f"),
                    )
                )
    lines += _table(t_rows)
    lines.append(coordination_note(doc["processors"]))
    lines.append("")
    broken = doc["broken"]
    lines.append("PASS: every promise kept" if not broken else "FAIL:\n  " + "\n  ".join(broken))
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return out


def _stats(s: Mapping[str, float] | None) -> str:
    return f"median {s['p50']:.1f} s, max {s['max']:.1f} s (n={s['n']:.0f})" if s else "-"


def _dups(d: Mapping[str, int]) -> str:
    return f"escalations {d['escalations']}, reminders {d['reminders']}"


def _num(v: float | None, spec: str = ".1f") -> str:
    return format(v, spec) if v is not None else "-"
