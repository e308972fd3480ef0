"""The bench's verdict: each figure beside its target, the pipeline beside the raw ceiling, the JSON file.

Pure apart from :func:`write_json`: results in, text and documents out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Results = Mapping[str, Mapping[str, Any]]

MET = "met"
MISSED = "MISSED"
NOT_MEASURED = "n/a"


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    unit: str
    op: Literal[">=", "<="]
    limit: float

    @property
    def status(self) -> str:
        if self.value is None:
            return NOT_MEASURED
        ok = self.value >= self.limit if self.op == ">=" else self.value <= self.limit
        return MET if ok else MISSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": f"{self.op} {self.limit:g}",
            "status": self.status,
        }


def fmt(value: float | None, unit: str) -> str:
    """A figure for people: thousands separated, sensible precision, its unit."""
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "us":
        return f"{value:.1f} µs"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:,.0f} {unit}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A plain text table; columns listed in ``right`` are right-aligned (numbers)."""
    widths = [len(h) for h in header]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)} has {len(row)} cells, the header {len(header)}")
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        out = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _get(results: Results, phase: str, *path: str) -> float | None:
    node: Any = results.get(phase)
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(results: Results) -> list[Target]:
    """The project's targets, each with the figure measured for it (None when its phase did not run)."""
    patients = _get(results, "triage", "patients_in_state")
    in_state = f"{patients:,.0f} patients in state" if patients is not None else "patients in state"
    out = [
        Target(
            "end to end, intake -> triage -> followup",
            _get(results, "pipeline", "end_to_end_per_s"),
            "ev/s",
            ">=",
            5000,
        ),
        Target(
            "triage, one worker draining a backlog",
            _get(results, "triage", "worker_per_s"),
            "ev/s",
            ">=",
            20000,
        ),
        Target(
            "triage core in-process, per event (median pass)",
            _get(results, "triage", "core_us_per_event"),
            "us",
            "<=",
            20,
        ),
        Target(
            "triage worker / naive Faust stage",
            _ratio(_get(results, "triage", "worker_per_s"), _get(results, "naive", "drained_per_s")),
            "x",
            ">=",
            3.0,
        ),
        Target(
            "p99 intake accept -> escalation published, 1,000 ev/s",
            _get(results, "latency", "latency_ms", "p99"),
            "ms",
            "<=",
            50,
        ),
        Target("reminder lateness p99", _get(results, "reminders", "lateness_s", "p99"), "s", "<=", 0.5),
        Target(f"triage peak RSS, {in_state}", _get(results, "triage", "peak_rss_mb"), "MB", "<=", 300),
        Target(
            "triage ready after SIGKILL, 1,000,000 patients on disk",
            _get(results, "restart", "sizes", "1000000", "rocksdb_after_sigkill", "seconds_to_ready"),
            "s",
            "<=",
            10,
        ),
    ]
    for service in ("intake", "triage", "followup"):
        out.append(
            Target(
                f"{service} peak RSS, end-to-end run",
                _get(results, "pipeline", "peak_rss_mb", service),
                "MB",
                "<=",
                300,
            )
        )
    return out


def ceiling_rows(results: Results) -> list[list[str]]:
    """Throughput figures; each stage's also as a share of the raw produce+consume ceiling."""
    ceiling = _get(results, "raw", "ceiling_per_s")
    raw = [
        ("raw kafka-python produce, acks=all", _get(results, "raw", "kafka_python_produce_per_s")),
        ("raw kafka-python consume", _get(results, "raw", "kafka_python_consume_per_s")),
        ("raw aiokafka produce, acks=all", _get(results, "raw", "aiokafka_produce_per_s")),
        ("raw aiokafka consume", _get(results, "raw", "aiokafka_consume_per_s")),
        ("raw produce+consume ceiling (one client)", ceiling),
    ]
    stages = [
        ("naive Faust stage (decode, forward 1 by 1)", _get(results, "naive", "drained_per_s")),
        ("triage core in-process (no broker)", _get(results, "triage", "core_per_s")),
        (
            "triage, one worker, Faust agents and streams",
            _get(results, "triage", "events_shell", "worker_per_s"),
        ),
        ("triage, one worker, a fetch at a time", _get(results, "triage", "worker_per_s")),
        (
            "intake accepted (HTTP batches, unthrottled)",
            _get(results, "pipeline", "intake_unthrottled_per_s"),
        ),
        ("end to end (through intake, triage, followup)", _get(results, "pipeline", "end_to_end_per_s")),
    ]
    rows = [[name, fmt(value, "ev/s"), ""] for name, value in raw]
    for name, value in stages:
        share = _ratio(value, ceiling)
        rows.append([name, fmt(value, "ev/s"), fmt(share * 100 if share is not None else None, "%")])
    return rows


def render(results: Results) -> str:
    rows = [
        [t.name, fmt(t.value, t.unit), f"{t.op} {fmt(t.limit, t.unit)}", t.status] for t in targets(results)
    ]
    parts = [
        format_table(["target", "measured", "target", "status"], rows, right=(1, 2)),
        "",
        format_table(["throughput", "measured", "of raw ceiling"], ceiling_rows(results), right=(1, 2)),
    ]
    validators = validator_rows(results)
    if validators:
        events = _get(results, "validators", "events")
        header = f"schema validation of {fmt(events, 'events')}, in-process"
        parts += [
            "",
            format_table([header, "µs/event", "events/s", "vs jsonschema"], validators, right=(1, 2, 3)),
        ]
    restart = restart_rows(results)
    if restart:
        parts += [
            "",
            format_table(
                [
                    "triage restart to ready",
                    "memory store",
                    "RocksDB first start",
                    "RocksDB after SIGKILL",
                    "on disk",
                ],
                restart,
                right=(1, 2, 3, 4),
            ),
        ]
    scaleout = scaleout_rows(results)
    if scaleout:
        parts += ["", *scaleout]
    shares = contention(results)
    if shares:
        parts += ["", "share of the machine used by other processes during each phase: " + shares]
    return "\n".join(parts)


def restart_rows(results: Results) -> list[list[str]]:
    """Seconds to ready and peak RSS of a triage worker at each size of state, by store."""
    sizes: Mapping[str, Any] = (results.get("restart") or {}).get("sizes") or {}

    def cell(figures: Mapping[str, Any] | None) -> str:
        if not figures:
            return "-"
        return f"{figures['seconds_to_ready']:.1f} s, {figures.get('peak_rss_mb') or 0:,.0f} MB"

    return [
        [
            f"{int(n):,} patients",
            cell(f.get("memory")),
            cell(f.get("rocksdb_first_start")),
            cell(f.get("rocksdb_after_sigkill")),
            fmt(f.get("rocksdb_disk_mb"), "MB"),
        ]
        for n, f in sizes.items()
    ]


def scaleout_rows(results: Results) -> list[str]:
    """The ``scaleout`` phase: the pause each membership change caused, and throughput by worker count."""
    phase = results.get("scaleout")
    if not isinstance(phase, Mapping) or "throughput" not in phase:
        return []
    feed = phase["feed"]
    lines = [
        f"scale-out on {phase['partitions']} partitions, {feed['rate']:g} ev/s offered steadily for "
        f"{feed['duration_s']:.0f} s: {phase.get('plan', '')}"
    ]
    pauses = phase["pause_s"]

    def stats(s: Mapping[str, float] | None) -> str:
        return f"median {s['p50']:.1f} s, max {s['max']:.1f} s" if s else "-"

    lines.append(
        "rebalance pause (change -> every worker ready, what was waiting processed): "
        + "; ".join(f"{k} {stats(v)}" for k, v in pauses.items())
    )
    lines.append(f"until the group's committed offsets caught up too: {stats(phase.get('committed_s'))}")
    rows = []
    for role, figures in phase["throughput"].items():
        for label, key in (("one throughout", "reference"), ("scale-out", "by_workers")):
            for r in figures[key]:
                rows.append(
                    [
                        f"{role} x{r['workers']}",
                        label,
                        f"{r['seconds']:.0f} s",
                        fmt(r["records_per_s"], "/s"),
                        fmt(r["cpu_us_per_record"], "µs"),
                    ]
                )
    lines.append(
        format_table(
            ["workers", "run", "under the feed", "input records", "processor per record"],
            rows,
            right=(2, 3, 4),
        )
    )
    processors = phase.get("processors")
    lines.append(
        f"On {processors or 'these'} cores shared by every process, more workers add coordination, not "
        "processors: the rows show its overhead, not a speed-up."
    )
    broken = phase.get("broken") or []
    lines.append(
        "scale-out promises: kept" if not broken else "scale-out promises BROKEN: " + "; ".join(broken)
    )
    return lines


def validator_rows(results: Results) -> list[list[str]]:
    """Each schema validator's figures on the same events (the ``validators`` phase), fastest first."""
    phase = results.get("validators")
    measured = phase.get("validators") if isinstance(phase, Mapping) else None
    if not isinstance(measured, Mapping) or not measured:
        return []
    reference = _get(results, "validators", "validators", "jsonschema", "us_per_event")
    rows = []
    for name, figures in sorted(measured.items(), key=lambda item: float(item[1]["us_per_event"])):
        us = float(figures["us_per_event"])
        rows.append([name, f"{us:,.2f}", fmt(figures["per_s"], "").strip(), fmt(_ratio(reference, us), "x")])
    return rows


def contention(results: Results) -> str:
    """``raw 2 %, naive 14 %, ...``: how much each phase's figures may be disturbed by others."""
    found = [(name, _get(results, name, "cpu", "others_pct")) for name in results]
    return ", ".join(f"{name} {value:.0f} %" for name, value in found if value is not None)


def document(
    *,
    results: Results,
    errors: Mapping[str, str],
    machine: Mapping[str, Any],
    params: Mapping[str, Any],
    started_at: str,
    seconds: float,
    interrupted: bool,
) -> dict[str, Any]:
    ts = targets(results)
    return {
        "started_at": started_at,
        "seconds": round(seconds, 1),
        "interrupted": interrupted,
        "machine": dict(machine),
        "parameters": dict(params),
        "targets": [t.as_dict() for t in ts],
        "missed": [t.name for t in ts if t.status == MISSED],
        "phases": {k: dict(v) for k, v in results.items()},
        "errors": dict(errors),
    }


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
