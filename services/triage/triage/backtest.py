"""Replay a file of clinical CloudEvents through the triage core, with no broker.

    python -m triage.backtest FILE.jsonl [--pathway DIR] [--json]

One JSON CloudEvent per line, replayed in file order; each event is evaluated at its own clinical time
(``now`` = the event's time). Prints, per rule, how many escalations were raised, updated and resolved at
each severity, and the alert burden: alerts raised per patient and patients with at least one alert. A
line that cannot be read is reported with its number and reason, and the replay goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from carepath.resources import pathways_dir
from triage.core import EventError, Pathway, PathwayError, PatientState, evaluate, load_pathway, parse_event
from triage.core.pathway import SEVERITIES

CHANGES = ("raised", "updated", "resolved")


@dataclass
class Report:
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (rule, change, severity)
    raised_per_patient: Counter[str] = field(default_factory=Counter)
    patients: set[str] = field(default_factory=set)

    def burden(self) -> dict[str, float | int]:
        seen = len(self.patients)
        alerted = len(self.raised_per_patient)
        raised = sum(self.raised_per_patient.values())
        return {
            "patients": seen,
            "patients_with_alert": alerted,
            "alerts_raised": raised,
            "alerts_per_patient": round(raised / seen, 3) if seen else 0.0,
            "alerts_per_alerted_patient": round(raised / alerted, 3) if alerted else 0.0,
            "max_alerts_for_one_patient": max(self.raised_per_patient.values(), default=0),
        }


def replay(lines: Iterable[str], pathway: Pathway) -> Report:
    report = Report()
    states: dict[str, PatientState] = {}
    for number, line in enumerate(lines, start=1):
        report.lines = number
        if not line.strip():
            continue
        try:
            event = parse_event(json.loads(line))
        except json.JSONDecodeError as exc:
            report.bad_lines.append((number, f"not JSON: {exc.msg} at column {exc.colno}"))
            continue
        except EventError as exc:
            report.bad_lines.append((number, str(exc)))
            continue
        state = states.get(event.patient_id) or PatientState.empty(event.patient_id)
        try:
            outcome = evaluate(state, event, event.time, pathway)
        except Exception as exc:  # report and go on: one bad event must not end a backtest
            report.bad_lines.append((number, f"could not be evaluated: {type(exc).__name__}: {exc}"))
            continue
        report.events += 1
        report.patients.add(event.patient_id)
        states[event.patient_id] = outcome.state
        if outcome.duplicate:
            report.duplicates += 1
        for escalation in outcome.escalations:
            report.counts[(escalation.rule_id, escalation.change, escalation.severity)] += 1
            if escalation.change == "raised":
                report.raised_per_patient[event.patient_id] += 1
    return report


def as_json(report: Report, pathway: Pathway) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for rule in pathway.rules:
        rules[rule.id] = {
            "name": rule.name,
            **{
                change: {severity: report.counts[(rule.id, change, severity)] for severity in SEVERITIES}
                for change in CHANGES
            },
        }
    return {
        "pathway": {"id": pathway.id, "version": pathway.version},
        "lines": report.lines,
        "events": report.events,
        "duplicates": report.duplicates,
        "bad_lines": [{"line": n, "reason": reason} for n, reason in report.bad_lines],
        "rules": rules,
        "burden": report.burden(),
    }


def print_table(report: Report, pathway: Pathway, out: TextIO) -> None:
    order = tuple(reversed(SEVERITIES))  # emergency, urgent, routine
    out.write(f"pathway {pathway.id} {pathway.version}: {report.events} events replayed")
    out.write(f" ({report.duplicates} duplicates, {len(report.bad_lines)} bad lines)\n\n")
    header = "counts are emergency/urgent/routine"
    out.write(f"{'rule':<5} {'name':<26} {'raised':>14} {'updated':>14} {'resolved':>14}   {header}\n")
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for rule in pathway.rules:
        cells = []
        for change in CHANGES:
            values = [report.counts[(rule.id, change, severity)] for severity in order]
            for severity, value in zip(order, values, strict=True):
                totals[change][severity] += value
            cells.append("/".join(str(v) for v in values))
        out.write(f"{rule.id:<5} {rule.name:<26} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}\n")
    total_cells = ["/".join(str(totals[change][s]) for s in order) for change in CHANGES]
    out.write(f"{'all':<5} {'':<26} {total_cells[0]:>14} {total_cells[1]:>14} {total_cells[2]:>14}\n\n")
    burden = report.burden()
    out.write(
        f"alert burden: {burden['alerts_raised']} alerts raised for {burden['patients']} patients "
        f"({burden['alerts_per_patient']} per patient); {burden['patients_with_alert']} patients with >= 1 alert "
        f"({burden['alerts_per_alerted_patient']} alerts each, at most {burden['max_alerts_for_one_patient']})\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.backtest", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="JSON lines: one CloudEvent per line")
    parser.add_argument("--pathway", type=Path, default=pathways_dir() / "mscc", help="pathway directory")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        pathway = load_pathway(args.pathway)
    except PathwayError as exc:
        print(f"backtest: the pathway definition is invalid: {exc}", file=sys.stderr)
        return 2
    try:
        with args.file.open(encoding="utf-8", errors="replace") as lines:
            report = replay(lines, pathway)
    except OSError as exc:
        print(f"backtest: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    for number, reason in report.bad_lines:
        print(f"{args.file}:{number}: {reason}", file=sys.stderr)
    if args.json:
        json.dump(as_json(report, pathway), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(report, pathway, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
