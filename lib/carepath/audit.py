"""``python -m carepath.audit``: how often the pathway's steps happened in time, from the audit trail.

Reads ``care.audit`` (followup's record of every expectation opened and closed, contract
``carepath.expectation.audited.v1``) and reports, for the expectations whose clock started in the period
asked for, in the manner of a NICE quality standard audit (QS56: whole-spine MRI within 24 hours of
suspected MSCC, ...):

- per expectation: how many, how many done, the median and 90th percentile time to the step, and the
  share done within its deadline. An expectation still open past its deadline, or cancelled after it,
  counts as not within; one still open before its deadline, or cancelled before it, is left out;
- every breach, for case review: which patient, when the clock started, the deadline, and what happened.

``--as-of`` (default now) reports as things stood then: records written later are left out.

    python -m carepath.audit --from 2026-01-01 --to 2026-02-01 [--out DIR] [--json]

``--out`` also writes ``timeliness.csv``, ``breaches.csv`` and ``timeliness.html`` (with charts). The
report names patients: it is patient data, for the people who review cases.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from carepath import topics

CLOSURES = ("satisfied", "cancelled", "withdrawn")


@dataclass
class Case:
    """One expectation of one patient: its opening and, when it closed, its closure."""

    expectation_id: str
    rule: str
    name: str
    patient: str
    clock_start: datetime
    deadline: datetime
    escalation_id: str | None = None
    closed: str | None = None  # satisfied | cancelled | withdrawn
    closed_at: datetime | None = None
    elapsed_s: float | None = None

    @property
    def target(self) -> timedelta:
        return self.deadline - self.clock_start

    def verdict(self, now: datetime) -> str:
        """within | late | overdue (still open past its deadline) | cancelled_late | pending | not_needed"""
        if self.closed == "satisfied":
            return "within" if self.closed_at is not None and self.closed_at <= self.deadline else "late"
        if self.closed in ("cancelled", "withdrawn"):
            return (
                "cancelled_late"
                if self.closed_at is not None and self.closed_at > self.deadline
                else "not_needed"
            )
        return "overdue" if now > self.deadline else "pending"


@dataclass
class Row:
    rule: str
    name: str
    target: timedelta
    opened: int = 0
    done: int = 0
    within: int = 0
    counted: int = 0  # done, or past the deadline without it
    times: list[float] = field(default_factory=list)
    targets: set[timedelta] = field(default_factory=set)

    @property
    def target_text(self) -> str:
        """The deadline's length; "varies" where it depends on the severity that opened it."""
        return _duration(self.target) if len(self.targets) <= 1 else "varies"

    @property
    def share(self) -> float | None:
        return self.within / self.counted if self.counted else None

    def percentile(self, q: float) -> float | None:
        if not self.times:
            return None
        if len(self.times) == 1:
            return self.times[0]
        return statistics.quantiles(sorted(self.times), n=100, method="inclusive")[int(q * 100) - 1]


@dataclass
class Report:
    start: datetime
    end: datetime
    now: datetime
    rows: list[Row]
    breaches: list[tuple[Case, str]]
    records: int
    undecodable: int

    def as_json(self) -> dict[str, Any]:
        return {
            "from": _iso(self.start),
            "to": _iso(self.end),
            "as_of": _iso(self.now),
            "records_read": self.records,
            "records_unreadable": self.undecodable,
            "expectations": [
                {
                    "expectation": r.rule,
                    "name": r.name,
                    "target_hours": round(r.target.total_seconds() / 3600, 2)
                    if len(r.targets) <= 1
                    else None,
                    "opened": r.opened,
                    "done": r.done,
                    "counted": r.counted,
                    "within_target": r.within,
                    "share_within_target": None if r.share is None else round(r.share, 4),
                    "median_hours": _hours(r.percentile(0.5)),
                    "p90_hours": _hours(r.percentile(0.9)),
                }
                for r in self.rows
            ],
            "breaches": [_breach(c, v, self.now) for c, v in self.breaches],
        }


def cases(records: Iterable[dict[str, Any]]) -> dict[str, Case]:
    """The expectations in the trail, by id (a record seen twice counts once)."""
    found: dict[str, Case] = {}
    closures: dict[str, dict[str, Any]] = {}
    for record in records:
        data = record.get("data") or {}
        transition = data.get("transition")
        if transition == "opened":
            found.setdefault(
                data["expectation_id"],
                Case(
                    expectation_id=data["expectation_id"],
                    rule=data["expectation"]["id"],
                    name=data["expectation"]["name"],
                    patient=str(record.get("subject", "")),
                    clock_start=_time(data["clock_start"]),
                    deadline=_time(data["deadline"]),
                    escalation_id=data.get("escalation_id"),
                ),
            )
        elif transition in CLOSURES:
            closures.setdefault(data["expectation_id"], data)
    for exp_id, data in closures.items():
        case = found.get(exp_id)
        if case is None:  # its opening is older than the trail kept: rebuilt from the closure
            case = found[exp_id] = Case(
                exp_id,
                data["expectation"]["id"],
                data["expectation"]["name"],
                "",
                _time(data["clock_start"]),
                _time(data["deadline"]),
                data.get("escalation_id"),
            )
        case.closed = data["transition"]
        case.closed_at = _time(data["at"])
        case.elapsed_s = data.get("elapsed_seconds")
    return found


def report(
    records: Sequence[dict[str, Any]], start: datetime, end: datetime, now: datetime, undecodable: int = 0
) -> Report:
    rows: dict[str, Row] = {}
    breaches: list[tuple[Case, str]] = []
    known = [r for r in records if _time(r["data"].get("recorded_at", r["data"]["at"])) <= now]
    for case in sorted(cases(known).values(), key=lambda c: (c.clock_start, c.expectation_id)):
        if not start <= case.clock_start < end:
            continue
        row = rows.setdefault(case.rule, Row(case.rule, case.name, case.target))
        row.opened += 1
        row.targets.add(case.target)
        verdict = case.verdict(now)
        if verdict in ("within", "late"):
            row.done += 1
            if case.elapsed_s is not None:
                row.times.append(case.elapsed_s)
        if verdict in ("within", "late", "overdue", "cancelled_late"):
            row.counted += 1
        if verdict == "within":
            row.within += 1
        elif verdict in ("late", "overdue", "cancelled_late"):
            breaches.append((case, verdict))
    ordered = sorted(rows.values(), key=lambda r: (len(r.rule), r.rule))
    return Report(start, end, now, ordered, breaches, len(records), undecodable)


# --- output ---------------------------------------------------------------------------------------------


def print_report(rep: Report, out: TextIO = sys.stdout) -> None:
    out.write(
        f"Pathway timeliness, clocks started {_day(rep.start)} to {_day(rep.end)} (as of {_iso(rep.now)}); "
        f"{rep.records} audit records\n\n"
    )
    header = (
        f"{'expectation':<34} {'target':>7} {'opened':>6} {'done':>5} {'within':>14} {'median':>8} {'p90':>8}"
    )
    out.write(header + "\n")
    for r in rep.rows:
        share = "-" if r.share is None else f"{r.within}/{r.counted} {100 * r.share:.0f}%"
        out.write(
            f"{r.rule + ' ' + r.name:<34.34} {r.target_text:>7} {r.opened:>6} {r.done:>5} {share:>14} "
            f"{_duration_s(r.percentile(0.5)):>8} {_duration_s(r.percentile(0.9)):>8}\n"
        )
    out.write(f"\n{len(rep.breaches)} breaches for case review\n")
    for case, verdict in rep.breaches:
        out.write(f"  {_breach_line(case, verdict, rep.now)}\n")
    if rep.undecodable:
        out.write(f"\n{rep.undecodable} records could not be read and were left out\n")


def write_files(rep: Report, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    doc = rep.as_json()
    summary = folder / "timeliness.csv"
    with summary.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(
            f, fieldnames=list(doc["expectations"][0]) if doc["expectations"] else ["expectation"]
        )
        writer.writeheader()
        writer.writerows(doc["expectations"])
    breaches = folder / "breaches.csv"
    with breaches.open("w", newline="", encoding="utf-8") as f:
        names = [
            "expectation",
            "name",
            "patient",
            "expectation_id",
            "escalation_id",
            "clock_start",
            "deadline",
        ]
        names += ["outcome", "done_at", "hours_past_deadline"]
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(doc["breaches"])
    page = folder / "timeliness.html"
    page.write_text(render_html(rep), encoding="utf-8")
    return [summary, breaches, page]


def render_html(rep: Report) -> str:
    """One page: a bar per expectation (share within target against 100 %), the table, the breaches."""
    e = html.escape
    bars = []
    width, bar_h, label_w = 640, 22, 260
    for i, r in enumerate(rep.rows):
        y = i * (bar_h + 8)
        share = r.share or 0.0
        colour = "#1a7f37" if share >= 0.9 else ("#9a6700" if share >= 0.7 else "#cf222e")
        text = (
            "no cases past their deadline yet"
            if r.share is None
            else f"{100 * share:.0f}% ({r.within}/{r.counted})"
        )
        bars.append(
            f'<text x="0" y="{y + 15}" class="l">{e(r.rule)} {e(r.name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{width - label_w}" height="{bar_h}" fill="#eaeef2"/>'
            f'<rect x="{label_w}" y="{y}" width="{(width - label_w) * share:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{label_w + 6}" y="{y + 15}" class="v">{e(text)}</text>'
        )
    height = max(len(rep.rows) * (bar_h + 8), bar_h)
    chart = (
        f'<svg role="img" aria-label="Share within target by expectation" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(bars)}</svg>'
    )
    rows = "".join(
        f"<tr><td>{e(r.rule)}</td><td>{e(r.name)}</td><td>{e(r.target_text)}</td><td>{r.opened}</td>"
        f"<td>{r.done}</td><td>{'-' if r.share is None else f'{100 * r.share:.0f}% ({r.within}/{r.counted})'}</td>"
        f"<td>{_duration_s(r.percentile(0.5))}</td><td>{_duration_s(r.percentile(0.9))}</td></tr>"
        for r in rep.rows
    )
    breaches = (
        "".join(f"<li>{e(_breach_line(c, v, rep.now))}</li>" for c, v in rep.breaches) or "<li>none</li>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>carepath pathway timeliness {_day(rep.start)} to {_day(rep.end)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse}}
td,th{{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}}svg .l{{font-size:13px}}
svg .v{{font-size:12px;fill:#fff;font-weight:600}}</style></head><body>
<h1>Pathway timeliness</h1>
<p>Clocks started {_day(rep.start)} to {_day(rep.end)}, as of {_iso(rep.now)}; {rep.records} audit records.
An expectation still open past its deadline, or cancelled after it, counts as not within target.</p>
<h2>Share within target</h2>{chart}
<h2>By expectation</h2>
<table><thead><tr><th>id</th><th>expectation</th><th>target</th><th>opened</th><th>done</th><th>within target</th>
<th>median</th><th>90th percentile</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Breaches for case review ({len(rep.breaches)})</h2><ul>{breaches}</ul>
<p>This report names patients: it is patient data.</p>
</body></html>
"""


def _breach(case: Case, verdict: str, now: datetime) -> dict[str, Any]:
    end = case.closed_at if case.closed_at is not None else now
    return {
        "expectation": case.rule,
        "name": case.name,
        "patient": case.patient,
        "expectation_id": case.expectation_id,
        "escalation_id": case.escalation_id or "",
        "clock_start": _iso(case.clock_start),
        "deadline": _iso(case.deadline),
        "outcome": verdict,
        "done_at": _iso(case.closed_at) if verdict == "late" and case.closed_at else "",
        "hours_past_deadline": round((end - case.deadline).total_seconds() / 3600, 1),
    }


def _breach_line(case: Case, verdict: str, now: datetime) -> str:
    b = _breach(case, verdict, now)
    what = {
        "late": f"done {b['hours_past_deadline']} h after its deadline",
        "overdue": f"still not done, {b['hours_past_deadline']} h past its deadline",
        "cancelled_late": f"cancelled {b['hours_past_deadline']} h after its deadline, not done",
    }[verdict]
    return (
        f"{case.rule} {case.name}: patient {case.patient or '(unknown)'}, clock started {b['clock_start']}, "
        f"deadline {b['deadline']}: {what}"
    )


# --- input ----------------------------------------------------------------------------------------------


def decode(values: Iterable[bytes]) -> tuple[list[dict[str, Any]], int]:
    records, bad = [], 0
    for value in values:
        try:
            record = json.loads(value)
            data = record["data"]
            if record.get("type") != "carepath.expectation.audited.v1" or not isinstance(data, dict):
                raise ValueError("not an audit record")
            _readable(data)
            records.append(record)
        except (ValueError, KeyError, TypeError):
            bad += 1
    return records, bad


def _readable(data: dict[str, Any]) -> None:
    """Raise (ValueError, KeyError, TypeError) unless the fields the report needs are there and read."""
    _time(data["clock_start"])
    _time(data["deadline"])
    str(data["expectation"]["id"])


def _when(text: str) -> datetime:
    """A date (its start, UTC) or an ISO 8601 instant with an offset."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a date (2026-01-31) or an instant with an offset"
        ) from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the offset (Z or +01:00)")
    return moment


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    from carepath import kafka_security
    from carepath.topic_reader import read_topic

    parser = argparse.ArgumentParser(prog="python -m carepath.audit", description=__doc__.split("\n\n")[0])
    now = datetime.now(UTC)
    parser.add_argument(
        "--from",
        dest="start",
        type=_when,
        default=now - timedelta(days=30),
        help="clock starts from (default: 30 days ago)",
    )
    parser.add_argument(
        "--to", dest="end", type=_when, default=now, help="clock starts before (default: now)"
    )
    parser.add_argument(
        "--as-of", dest="as_of", type=_when, default=now, help="judge open expectations at (default: now)"
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to read the topic, at most")
    parser.add_argument(
        "--out", type=Path, help="also write timeliness.csv, breaches.csv and timeliness.html here"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.end <= args.start:
        parser.error("--to must be after --from")
    try:
        values = read_topic(
            args.bootstrap.split(","),
            topics.AUDIT,
            timeout_s=args.timeout,
            security=kafka_security.kafka_python_kwargs(kafka_security.from_environment()),
        )
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records, bad = decode(values)
    rep = report(records, args.start, args.end, args.as_of, bad)
    if args.json:
        json.dump(rep.as_json(), out, indent=2)
        out.write("\n")
    else:
        print_report(rep, out)
    if args.out:
        for path in write_files(rep, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _duration(delta: timedelta) -> str:
    return _duration_s(delta.total_seconds())


def _duration_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 4 * 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} d".replace(".0 d", " d")


if __name__ == "__main__":
    sys.exit(main())
