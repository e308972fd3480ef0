"""python -m carepath_tools.bench [--quick] [--phases raw,naive,...] [--out FILE]: run the bench, print,
save."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from carepath_tools.bench import machine, report, workload
from carepath_tools.bench.context import Console, Context
from carepath_tools.bench.cpu import CpuWindow
from carepath_tools.bench.params import Params
from carepath_tools.devstack import development_defaults

OTHERS_WARNING_PCT = 10.0  # other processes' share of the machine above which a phase's figures are flagged

# name -> module (each has ``run(ctx) -> dict``), in the order they run; never two at once.
PHASES: dict[str, str] = {
    "validators": "carepath_tools.bench.phase_validators",
    "raw": "carepath_tools.bench.phase_raw",
    "naive": "carepath_tools.bench.phase_naive",
    "triage": "carepath_tools.bench.phase_triage",
    "pipeline": "carepath_tools.bench.phase_pipeline",
    "latency": "carepath_tools.bench.phase_latency",
    "reminders": "carepath_tools.bench.phase_reminders",
    "scaleout": "carepath_tools.bench.phase_scaleout",
    "restart": "carepath_tools.bench.phase_restart",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m carepath_tools.bench",
        description="Throughput, latency percentiles and peak memory beside the raw broker ceiling.",
    )
    p.add_argument("--quick", action="store_true", help="smaller numbers: about a minute")
    p.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    p.add_argument(
        "--out", type=Path, default=None, help="result file (default bench-results/bench-<time>.json)"
    )
    p.add_argument("--seed", type=int, default=None, help="workload seed")
    p.add_argument("--patients", type=int, default=None, help="synthetic patients (triage backlog)")
    p.add_argument("--pipeline-seconds", type=float, default=None, help="sustained HTTP load duration")
    p.add_argument("--latency-seconds", type=float, default=None, help="paced 1,000 ev/s run duration")
    p.add_argument("--time-scale", type=float, default=None, help="clock scale of the reminder phase")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override any parameter (see carepath/bench/params.py), e.g. --set reminder_patients=500",
    )
    args = p.parse_args(argv)
    unknown = [x for x in args.phases.split(",") if x and x not in PHASES]
    if unknown:
        p.error(f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    development_defaults()
    args = parse_args(argv)
    # Ctrl-C and SIGTERM both stop the run in order (a shell may have started us with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    params = (Params.quick() if args.quick else Params()).with_overrides(
        seed=args.seed,
        patients=args.patients,
        pipeline_seconds=args.pipeline_seconds,
        latency_seconds=args.latency_seconds,
        reminder_scale=args.time_scale,
    )
    try:
        params = params.with_assignments(args.set)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    out = args.out or Path("bench-results") / f"bench-{stamp}.json"
    log_dir = out.parent / f"logs-{stamp}"
    console = Console()
    tag = uuid.uuid4().hex[:6]
    selected = [name for name in PHASES if name in args.phases.split(",")]
    about = machine.describe()

    console.say(f"{about['nproc']} cpu(s), Python {about['python']}, broker: {about['broker']}")
    console.say(f"phases: {', '.join(selected)}; logs in {log_dir}")
    console.phase = "workload"
    t = time.perf_counter()
    base = started_at.replace(microsecond=0)
    # Fresh embedded brokers hold nothing else, so the patients need no run tag (same seed, same bytes).
    prefix = f"bench-{tag}-" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else "bench-"
    wl = workload.generate(params.patients, params.seed, base, prefix=prefix)
    checked = workload.validate_sample(wl.events)
    gc.freeze()  # the workload is long-lived: keep the collector from walking it during measurements
    console.say(
        f"{len(wl.events):,} events for {wl.patients:,} patients ({wl.red_flag_patients:,} with MSCC red flags), "
        f"{wl.mean_bytes:.0f} bytes on average, {checked} checked against the contract, "
        f"{time.perf_counter() - t:.1f} s"
    )
    ctx = Context(params, wl, log_dir, console, tag)

    results: dict[str, dict[str, Any]] = {"workload": wl.describe()}
    errors: dict[str, str] = {}
    interrupted = False
    for name in selected:
        console.phase = name
        phase_started = time.monotonic()
        window = CpuWindow().start()
        try:
            run: Callable[[Context], dict[str, Any]] = importlib.import_module(PHASES[name]).run
            figures = run(ctx)
            failure = figures.pop("failed", None)  # a phase that measured but found a fault
            figures["phase_seconds"] = round(time.monotonic() - phase_started, 1)
            figures["cpu"] = usage = window.stop()
            if usage.get("others_pct", 0) >= OTHERS_WARNING_PCT:
                console.say(
                    f"note: other processes used {usage['others_pct']:.0f} % of the machine during this phase"
                )
            results[name] = figures
            if failure:
                errors[name] = str(failure)
                console.say(f"FAILED: {failure}")
        except KeyboardInterrupt:
            console.say("interrupted: every process started has been stopped")
            interrupted = True
            break
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            log_dir.mkdir(parents=True, exist_ok=True)
            (log_dir / f"{name}-error.txt").write_text(traceback.format_exc())
            console.say(f"FAILED: {errors[name]} (traceback in {log_dir / f'{name}-error.txt'})")

    console.phase = "report"
    elapsed = time.monotonic() - console.started
    print()
    print(report.render(results))
    for name, message in errors.items():
        print(f"phase {name} failed: {message}")
    doc = report.document(
        results=results,
        errors=errors,
        machine=about,
        params=params.as_dict() | {"quick": args.quick, "phases": selected},
        started_at=started_at.isoformat(),
        seconds=elapsed,
        interrupted=interrupted,
    )
    report.write_json(out, doc)
    print(f"\n{len(doc['missed'])} target(s) MISSED; every figure is in {out} (whole run {elapsed:.0f} s)")
    if interrupted:
        return 130
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
