"""The comparison of a faulty run with a fault-free run of the same feed, and the promises it checks.

Promises (any broken one makes ``python -m carepath_tools.chaos`` exit 1):

* no escalation id and no reminder id (due by the cutoff) of the fault-free run is missing from the
  faulty run, and the faulty run has none of its own;
* every id published is delivered to the webhook exactly once, except a notification whose request was
  in flight when the notifier was killed: it may have arrived, its outcome was not recorded, and it is
  sent again (same idempotency key) and counted as a redelivery in doubt. The deliveries beyond one per
  id must not outnumber those counted;
* both runs drained (every input processed, every due deadline fired, nothing pending delivery), every
  killed worker came back and its backlog was processed, every request was accepted.

Compared: every escalation CloudEvent id, and every reminder due by the cutoff except one kind whose
firing depends on timing by design. A1 (acknowledge an escalation) starts its clock when triage *raised*
the escalation, not at a clinical time: at 3600x its emergency deadline is a quarter of a real second
after triage read the event, about the pipeline's own latency on a busy machine. For an escalation the
same feed also updates or resolves (the next event of the same timeline), whether A1 fires first is a
matter of scheduling, in a fault-free run as much as in a faulty one; those A1 reminders are counted and
reported, not compared. A1 reminders of escalations raised once and left open are compared.

Reported, not promised: raw duplicate publications (one id on a topic more than once: at-least-once
processing repeats an output a crash left unacknowledged; consumers de-duplicate by id) and the time to
resume after each kill.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from carepath import envelope
from carepath_tools.chaos.run import Output


@dataclass
class Comparison:
    escalation_ids: int
    reminder_ids: int
    lost: dict[str, list[str]]
    only_faulty: dict[str, list[str]]
    raw_duplicates: dict[str, dict[str, int]]  # run -> topic -> records beyond one per id
    changed_duplicates: dict[str, int]  # run -> ids published more than once with different bytes
    deliveries: dict[str, Counter[int]]  # run -> {deliveries per id: ids}
    undelivered: dict[str, list[str]]
    unpublished_deliveries: dict[str, list[str]]
    resume_s: list[float]
    ready_s: list[float]
    caught_up_s: list[float]
    not_compared: dict[str, int]  # run -> A1 reminders of escalations updated or resolved (see above)
    broken: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "escalation_ids": self.escalation_ids,
            "reminder_ids": self.reminder_ids,
            "lost": {k: len(v) for k, v in self.lost.items()},
            "only_in_faulty": {k: len(v) for k, v in self.only_faulty.items()},
            "raw_duplicates": self.raw_duplicates,
            "changed_duplicates": self.changed_duplicates,
            "deliveries_per_id": {
                run: {str(k): v for k, v in c.items()} for run, c in self.deliveries.items()
            },
            "undelivered": {k: len(v) for k, v in self.undelivered.items()},
            "delivered_unpublished": {k: len(v) for k, v in self.unpublished_deliveries.items()},
            "resume_s": _stats(self.resume_s),
            "ready_s": _stats(self.ready_s),
            "caught_up_s": _stats(self.caught_up_s),
            "a1_of_moving_escalations_not_compared": self.not_compared,
            "broken": self.broken,
        }


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"n": len(values), "p50": round(statistics.median(values), 2), "max": round(max(values), 2)}


def moving_escalations(*runs: Output) -> set[str]:
    """Escalations the feed updates or resolves (a CloudEvent beyond revision 1), in any of ``runs``."""
    return {i.rpartition(".r")[0] for out in runs for i, _ in out.escalations if not i.endswith(".r1")}


def _timing_dependent(value: bytes, moving: set[str]) -> bool:
    data = envelope.decode(value)["data"]
    return bool(data["expectation"]["id"] == "A1" and data.get("escalation_id") in moving)


def _ids(out: Output, moving: set[str]) -> dict[str, set[str]]:
    return {
        "escalations": {i for i, _ in out.escalations},
        "reminders": {i for i, due, v in out.reminders if not _timing_dependent(v, moving)},
    }


def _in_window(out: Output, margin: timedelta) -> set[str]:
    """Reminder ids due by the cutoff. A1's due time counts from when triage raised the escalation, which
    differs between runs: one of those near the cutoff may be due inside it in one run and outside in the
    other, so for A1 the window ends ``margin`` earlier."""
    out_ids = set()
    for i, due, v in out.reminders:
        a1 = envelope.decode(v)["data"]["expectation"]["id"] == "A1"
        if due <= out.cutoff - (margin if a1 else timedelta(0)):
            out_ids.add(i)
    return out_ids


def _not_compared(out: Output, moving: set[str]) -> int:
    return len({i for i, due, v in out.reminders if due <= out.cutoff and _timing_dependent(v, moving)})


def _duplicates(records: list[tuple[str, bytes]]) -> tuple[int, int]:
    by_id: dict[str, set[bytes]] = {}
    for rid, value in records:
        by_id.setdefault(rid, set()).add(value)
    return len(records) - len(by_id), sum(1 for v in by_id.values() if len(v) > 1)


def compare(clean: Output, faulty: Output, a1_margin: timedelta = timedelta(hours=30)) -> Comparison:
    moving = moving_escalations(clean, faulty)
    a, b = _ids(clean, moving), _ids(faulty, moving)
    # A reminder due by the cutoff in one run must be in the other (which ran past the cutoff too).
    window_a = {"escalations": a["escalations"], "reminders": a["reminders"] & _in_window(clean, a1_margin)}
    window_b = {"escalations": b["escalations"], "reminders": b["reminders"] & _in_window(faulty, a1_margin)}
    lost = {t: sorted(window_a[t] - b[t]) for t in a}
    only = {t: sorted(window_b[t] - a[t]) for t in a}
    raw: dict[str, dict[str, int]] = {}
    changed: dict[str, int] = {}
    deliveries: dict[str, Counter[int]] = {}
    undelivered: dict[str, list[str]] = {}
    unpublished: dict[str, list[str]] = {}
    for out in (clean, faulty):
        esc_raw, esc_changed = _duplicates(out.escalations)
        rem_raw, rem_changed = _duplicates([(i, v) for i, _, v in out.reminders])
        raw[out.name] = {"escalations": esc_raw, "reminders": rem_raw}
        changed[out.name] = esc_changed + rem_changed
        published = {i for i, _ in out.escalations} | {i for i, _, _ in out.reminders}
        deliveries[out.name] = Counter(out.deliveries[i] for i in published)
        undelivered[out.name] = sorted(i for i in published if out.deliveries[i] == 0)
        unpublished[out.name] = sorted(set(out.deliveries) - published)
    comparison = Comparison(
        escalation_ids=len(window_a["escalations"]),
        reminder_ids=len(window_a["reminders"]),
        lost=lost,
        only_faulty=only,
        raw_duplicates=raw,
        changed_duplicates=changed,
        deliveries=deliveries,
        undelivered=undelivered,
        unpublished_deliveries=unpublished,
        resume_s=[k.resumed_s for k in faulty.kills if k.resumed_s is not None],
        ready_s=[k.ready_s for k in faulty.kills if k.ready_s is not None],
        caught_up_s=[k.caught_up_s for k in faulty.kills if k.caught_up_s is not None],
        not_compared={out.name: _not_compared(out, moving) for out in (clean, faulty)},
    )
    comparison.broken = _broken(comparison, clean, faulty)
    return comparison


def _broken(c: Comparison, clean: Output, faulty: Output) -> list[str]:
    broken = []
    for topic, ids in c.lost.items():
        if ids:
            broken.append(f"{len(ids)} {topic} ids lost in the faulty run (e.g. {ids[0]})")
    for topic, ids in c.only_faulty.items():
        if ids:
            broken.append(f"{len(ids)} {topic} ids only in the faulty run (e.g. {ids[0]})")
    if not c.escalation_ids or not c.reminder_ids:
        broken.append("the fault-free run produced no escalations or no reminders: nothing was compared")
    for out in (clean, faulty):
        extra = sum((n - 1) * ids for n, ids in c.deliveries[out.name].items() if n > 1)
        if extra > out.in_doubt:
            doubles = sorted(i for i, n in out.deliveries.items() if n > 1)
            broken.append(
                f"{out.name}: {extra} deliveries beyond one per id, only {out.in_doubt:.0f} counted in doubt "
                f"(e.g. {doubles[0]})"
            )
        if c.undelivered[out.name]:
            broken.append(f"{out.name}: {len(c.undelivered[out.name])} published ids never delivered")
        if c.unpublished_deliveries[out.name]:
            broken.append(
                f"{out.name}: {len(c.unpublished_deliveries[out.name])} deliveries of unpublished ids"
            )
        if not out.drained:
            broken.append(f"{out.name}: {out.drain_note}")
        if out.extra.get("followup_states_emptied"):
            broken.append(
                f"{out.name}: {out.extra['followup_states_emptied']} followup states written with no input "
                "seen (a patient's expectations written over with nothing)"
            )
        if out.post_errors:
            broken.append(f"{out.name}: {len(out.post_errors)} requests refused ({out.post_errors[0][:120]})")
        if out.monitor_error:
            broken.append(f"{out.name}: monitor failed ({out.monitor_error})")
    for k in faulty.kills:
        if k.error or k.resumed_s is None:
            broken.append(f"kill {k.n} ({k.victim}): {k.error or 'did not resume'}")
    return broken


def emptied_cell(n: int | None) -> str:
    """Followup states written with no input seen (:func:`carepath_tools.chaos.run.emptied_states`); "-"
    when the run's changelogs were not read (a shared cluster's)."""
    return "-" if n is None else str(n)


def summary(c: Comparison, clean: Output, faulty: Output, *, events: int, patients: int) -> str:
    def fmt(stats: dict[str, float] | None) -> str:
        return f"p50 {stats['p50']:.1f} s, max {stats['max']:.1f} s" if stats else "-"

    def per_id(run: str) -> str:
        return ", ".join(f"{n}x: {ids:,}" for n, ids in sorted(c.deliveries[run].items()))

    kills = Counter(k.role for k in faulty.kills)
    rows = [
        (
            "events / patients",
            f"{events:,} / {patients:,}",
            f"{clean.posted_events:,} posted",
            f"{faulty.posted_events:,} posted ({faulty.post_retries} resends)",
        ),
        (
            "kills (SIGKILL + restart)",
            f"{len(faulty.kills)}: " + ", ".join(f"{r} {n}" for r, n in sorted(kills.items())),
            "0",
            str(len(faulty.kills)),
        ),
        (
            "escalation ids",
            "lost 0, only-in-faulty 0",
            f"{c.escalation_ids:,}",
            f"lost {len(c.lost['escalations'])}, only here {len(c.only_faulty['escalations'])}",
        ),
        (
            "reminder ids (due by the cutoff)",
            "lost 0, only-in-faulty 0",
            f"{c.reminder_ids:,}",
            f"lost {len(c.lost['reminders'])}, only here {len(c.only_faulty['reminders'])}",
        ),
        (
            "A1 of updated/resolved escalations",
            "not compared",
            str(c.not_compared[clean.name]),
            str(c.not_compared[faulty.name]),
        ),
        (
            "raw duplicate publications",
            "reported",
            _dups(c.raw_duplicates[clean.name]),
            _dups(c.raw_duplicates[faulty.name]),
        ),
        (
            "  of which with other bytes",
            "reported",
            str(c.changed_duplicates[clean.name]),
            str(c.changed_duplicates[faulty.name]),
        ),
        (
            "reminders republished (counted)",
            "reported",
            f"{clean.republished:.0f}",
            f"{faulty.republished:.0f}",
        ),
        ("webhook deliveries per id", "1 (+ in doubt, counted)", per_id(clean.name), per_id(faulty.name)),
        (
            "redeliveries in doubt (counted)",
            "≥ deliveries beyond 1",
            f"{clean.in_doubt:.0f}",
            f"{faulty.in_doubt:.0f}",
        ),
        (
            "published, never delivered",
            "0",
            str(len(c.undelivered[clean.name])),
            str(len(c.undelivered[faulty.name])),
        ),
        (
            "followup states written empty",
            "0",
            emptied_cell(clean.extra.get("followup_states_emptied")),
            emptied_cell(faulty.extra.get("followup_states_emptied")),
        ),
        ("worker ready after a kill", "reported", "-", fmt(_stats(c.ready_s))),
        ("backlog at a kill processed", "reported", "-", fmt(_stats(c.caught_up_s))),
        ("resumed (both)", "reported", "-", fmt(_stats(c.resume_s))),
        (
            "clock held (pipeline stalled)",
            "reported",
            f"{clean.extra.get('clock_held_s', 0):.0f} s",
            f"{faulty.extra.get('clock_held_s', 0):.0f} s",
        ),
        ("drained", "yes", "yes" if clean.drained else "NO", "yes" if faulty.drained else "NO"),
        ("run time", "", f"{clean.elapsed_s:.0f} s", f"{faulty.elapsed_s:.0f} s"),
    ]
    header = ("", "promised", "fault-free", "faulty")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    lines = [" | ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if faulty.kills:
        lines.append("")
        lines.append("kill  victim      at (s)  pause (s)  ready (s)  caught up (s)  resumed (s)")
        for k in faulty.kills:
            lines.append(
                f"{k.n:>4}  {k.victim:<10}  {k.at_s:>6.1f}  {k.pause_s:>9.1f}  "
                f"{_num(k.ready_s):>9}  {_num(k.caught_up_s):>13}  {_num(k.resumed_s):>11}"
                + (f"  {k.error}" if k.error else "")
            )
    lines.append("")
    lines.append("PASS: every promise kept" if not c.broken else "FAIL:\n  " + "\n  ".join(c.broken))
    return "\n".join(lines)


def _dups(d: dict[str, int]) -> str:
    return f"escalations {d['escalations']}, reminders {d['reminders']}"


def _num(v: float | None) -> str:
    return f"{v:.1f}" if v is not None else "-"
