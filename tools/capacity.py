"""``make capacity``: the capacity model's measured inputs and what they give for a hospital and a region.

Measured here, from the conformance corpus (tests/conformance/timelines: 47 patients as two hospitals send
them) replayed through intake and the triage and followup cores exactly as the reference replay does:

- events per patient per day of an active episode (stored events, acknowledgements included, over the
  days from the first to the last step);
- bytes of state per patient as the workers store it (the table value, which is also the changelog
  record), triage's and followup's, the largest each patient's state reached.

Taken from ``make bench`` (the README's Benchmark section; pass others with the options): processor time
per event per service and the broker, and the resident memory of a triage worker holding 100,000
patients.

The population is an assumption, stated and changeable: how many patients have events on a day per
1,000 beds, how many new patients reach the feed per day, for how many years, and the peak over the
day's mean. Everything else is arithmetic on the figures above, printed line by line with its source.

    python -m tools.capacity [--beds 1000] [--hospitals 30] [--active-per-1000-beds 250] ...
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from carepath import envelope


@dataclass(frozen=True)
class Corpus:
    patients: int
    events_per_active_day: list[float]
    triage_bytes: list[int]
    followup_bytes: list[int]
    escalations: int
    reminders: int
    event_bytes: list[int]


def measure_corpus(channel: str = "fhir") -> Corpus:
    """Replay every timeline over ``channel`` and measure what each patient costs."""
    from tests.conformance import loader
    from tests.conformance.replay import Replay

    class Measured(Replay):
        """The reference replay, noting the largest each patient's stored state grows."""

        triage_max = followup_max = 0

        def deliver(self) -> None:
            super().deliver()
            self.triage_max = max(self.triage_max, len(envelope.encode_for_storage(self.triage.to_dict())))
            self.followup_max = max(
                self.followup_max, len(envelope.encode_for_storage(self.followup.to_dict()))
            )

    per_day: list[float] = []
    triage_bytes: list[int] = []
    followup_bytes: list[int] = []
    escalations = reminders = 0
    event_bytes: list[int] = []
    timelines = loader.load_all()
    for tl in timelines:
        replay = Measured(tl, channel)
        run = asyncio.run(replay.go())
        stored = [
            r for r in replay.publisher.records if r.topic in ("clinical.events", "care.acknowledgements")
        ]
        steps = sorted(s.at for s in tl.steps)
        days = max((steps[-1] - steps[0]).total_seconds() / 86400, 1.0)
        per_day.append(len(stored) / days)
        event_bytes += [len(r.value) for r in stored]
        triage_bytes.append(replay.triage_max)
        followup_bytes.append(replay.followup_max)
        escalations += sum(1 for o in run.outputs if o.kind == "escalation")
        reminders += sum(1 for o in run.outputs if o.kind == "reminder")
    return Corpus(len(timelines), per_day, triage_bytes, followup_bytes, escalations, reminders, event_bytes)


def p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.capacity", description=__doc__.split("\n\n")[0])
    a = parser.add_argument
    a("--beds", type=int, default=1000)
    a("--hospitals", type=int, default=30, help="hospitals in the region")
    a("--active-per-1000-beds", type=float, default=250, help="ASSUMPTION: patients with events on a day")
    a("--new-per-1000-beds", type=float, default=20, help="ASSUMPTION: new patients reaching the feed a day")
    a("--years", type=float, default=5, help="ASSUMPTION: years of patients kept in state (none expire)")
    a("--peak", type=float, default=10, help="ASSUMPTION: busiest minute over the day's mean (catch-up)")
    a("--partitions", type=int, default=24, help="schemas/topics.json's production count")
    # make bench, README "Benchmark": processor time per event (µs) and a triage worker's memory
    a("--cpu-us", type=float, default=228, help="make bench: processor time per event, every stage + broker")
    a("--triage-rss-mb-100k", type=float, default=219, help="make bench: triage RSS holding 100,000 patients")
    a("--end-to-end-rate", type=float, default=5925, help="make bench: intake -> triage -> followup ev/s")
    a(
        "--rebuild-per-s",
        type=float,
        default=8_900,
        help="make bench restart: patients a triage worker reads from its changelog a second when it starts "
        "with nothing on disk (memory store, or a first start: 1,000,000 in 111.9 s)",
    )
    a(
        "--restart-s",
        type=float,
        default=4.4,
        help="make bench restart: a triage worker with its tables on disk (RocksDB) ready after SIGKILL, "
        "1,000,000 patients in state",
    )
    a(
        "--disk-rss-mb",
        type=float,
        default=205,
        help="make bench restart: peak RSS of a triage worker reading 1,000,000 patients into RocksDB",
    )
    a("--retention-days", type=float, default=30, help="schemas/topics.json: clinical.events retention")
    a("--channel", choices=("fhir", "hl7"), default="fhir")
    args = parser.parse_args(argv)

    from carepath import logs

    logs.configure("capacity", "warning")
    print(f"replaying the conformance corpus over {args.channel} ...", file=sys.stderr, flush=True)
    c = measure_corpus(args.channel)
    epd = statistics.mean(c.events_per_active_day)
    tb, fb = statistics.mean(c.triage_bytes), statistics.mean(c.followup_bytes)
    rows: list[tuple[str, str, str]] = []

    def row(what: str, value: str, source: str) -> None:
        rows.append((what, value, source))

    row("patients in the corpus", f"{c.patients}", "tests/conformance/timelines")
    row(
        "events per patient per active day",
        f"mean {epd:.1f}, p90 {p(c.events_per_active_day, 0.9):.1f}",
        "measured: corpus replay",
    )
    row(
        "state per patient, triage (bytes)",
        f"mean {tb:,.0f}, p95 {p(c.triage_bytes, 0.95):,}, max {max(c.triage_bytes):,}",
        "measured: largest table value",
    )
    row(
        "state per patient, followup (bytes)",
        f"mean {fb:,.0f}, p95 {p(c.followup_bytes, 0.95):,}, max {max(c.followup_bytes):,}",
        "measured: largest table value",
    )
    eb = statistics.mean(c.event_bytes)
    row("bytes per stored event", f"mean {eb:,.0f}, max {max(c.event_bytes):,}", "measured: corpus replay")
    per_event = args.cpu_us
    row("processor time per event, all services + broker", f"{per_event:.0f} µs", "make bench")
    rss_per_patient = args.triage_rss_mb_100k * 1e6 / 100_000
    row(
        "triage memory per patient held, memory store (upper bound)",
        f"{rss_per_patient:,.0f} bytes",
        "make bench",
    )
    for label, scale in (("1 hospital", args.beds / 1000), ("region", args.beds / 1000 * args.hospitals)):
        active = args.active_per_1000_beds * scale
        events_day = active * epd
        mean_s = events_day / 86400
        peak_s = mean_s * args.peak
        in_state = args.new_per_1000_beds * scale * 365 * args.years
        cores = peak_s * per_event / 1e6
        changelog = in_state * (tb + fb)
        memory = in_state * rss_per_patient
        per_worker = in_state / args.partitions
        row(f"{label}: events per day", f"{events_day:,.0f}", "active patients x events per active day")
        row(f"{label}: events/s mean / peak", f"{mean_s:.2f} / {peak_s:.1f}", "x peak factor")
        row(f"{label}: patients in state", f"{in_state:,.0f}", "new a day x 365 x years")
        row(f"{label}: cores at peak (all services)", f"{cores:.4f}", "peak events/s x processor time")
        row(
            f"{label}: a day's backlog drained in",
            f"{events_day / args.end_to_end_rate:,.1f} s",
            f"at {args.end_to_end_rate:,.0f} ev/s end to end (make bench)",
        )
        row(
            f"{label}: changelog + RocksDB (triage + followup)",
            f"{changelog / 1e6:,.0f} MB",
            "patients x bytes",
        )
        row(
            f"{label}: Kafka, events kept {args.retention_days:g} days, one copy",
            f"{events_day * args.retention_days * eb / 1e6:,.0f} MB",
            "events a day x days x bytes (schemas/topics.json: clinical.events)",
        )
        row(
            f"{label}: triage memory, tables on disk (default)",
            f"{args.disk_rss_mb:,.0f} MB",
            "make bench restart: peak reading 1,000,000 patients in; not per patient",
        )
        row(
            f"{label}: triage memory, memory store",
            f"{memory / 1e6:,.0f} MB",
            "patients x memory each (CAREPATH_TABLE_STORE=memory)",
        )
        row(f"{label}: patients per partition", f"{per_worker:,.0f}", f"{args.partitions} partitions")
        row(
            f"{label}: triage restarted after a crash, tables on disk",
            f"{args.restart_s:,.1f} s",
            "make bench restart: measured at 1,000,000 patients",
        )
        row(
            f"{label}: triage started on an empty disk, or memory store",
            f"{6 + in_state / args.rebuild_per_s:,.0f} s",
            f"6 s + patients / {args.rebuild_per_s:,.0f} a second (make bench restart)",
        )
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    for what, value, source in rows:
        print(f"{what:<{width}}  {value:>{vwidth}}  {source}")
    print(f"\nescalations / reminders in the corpus replay: {c.escalations} / {c.reminders}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
