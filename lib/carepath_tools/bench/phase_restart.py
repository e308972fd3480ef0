"""Phase: a triage worker's restart to ready with 10,000, 100,000 and 1,000,000 patients in state, its
tables in memory and on disk (RocksDB).

The state is what the triage core makes of the bench workload's patients (run in this process, as the
``triage`` phase's core step does), written straight to the worker's changelog topic with the patient as
key; past the workload's patient count each state is written again under further keys (to the store and
the changelog a state is bytes under a key). For each size, on a fresh broker:

* **memory** (``CAREPATH_TABLE_STORE=memory``): started, timed to ready — every start reads the whole
  changelog;
* **rocksdb, first start** on an empty state directory: the same read, into RocksDB;
* **rocksdb, after SIGKILL**: the same worker killed once ready and started again on its state directory,
  timed to ready — the databases are checked against the changelog and only what lies past their offsets
  is read.

Ready is ``/readyz`` answering 200 (partitions assigned, tables recovered), timed from the process's start.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carepath_tools.bench import kafka_io, probes
from carepath_tools.bench.context import Context
from carepath_tools.bench.stacks import phase_stack, start_service

TABLE = "triage-patient-state"
CORE_BATCH = 1000


def run(ctx: Context) -> dict[str, Any]:
    sizes = [int(x) for x in ctx.params.restart_patients.split(",") if x.strip()]
    states = _core_states(ctx)
    ctx.say(f"{len(states):,} patients' triage state from the core ({_mean(states):,.0f} bytes each)")
    out: dict[str, Any] = {"state_bytes_per_patient": round(_mean(states)), "sizes": {}}
    for n in sizes:
        out["sizes"][str(n)] = _size(ctx, states, n)
    return out


def _size(ctx: Context, states: list[tuple[bytes, bytes]], n: int) -> dict[str, Any]:
    from carepath.topics import partitions

    with phase_stack(ctx, f"restart-{n}") as stack:
        assert stack.bootstrap
        group = ctx.group_id(f"restart-{n}", "triage")
        changelog = f"{group}-{TABLE}-changelog"
        kafka_io.create_topic(stack.bootstrap, changelog, partitions())
        seconds = _fill(stack.bootstrap, changelog, states, n)
        ctx.say(f"{n:,} patients' state written to the changelog in {seconds:.1f} s")
        state_dir = ctx.phase_dir(f"restart-{n}") / "state"
        shutil.rmtree(state_dir, ignore_errors=True)
        base = {"CAREPATH_TRIAGE_GROUP_ID": group, "CAREPATH_STATE_DIR": str(state_dir)}
        figures: dict[str, Any] = {"patients": n}
        timeout = max(ctx.params.ready_timeout_s, 1800)

        svc, figures["memory"] = _timed_start(
            ctx, stack, "memory", base | {"CAREPATH_TABLE_STORE": "memory"}, timeout
        )
        svc.stop()
        svc, figures["rocksdb_first_start"] = _timed_start(
            ctx, stack, "rocksdb-first", base | {"CAREPATH_TABLE_STORE": "rocksdb"}, timeout
        )
        figures["rocksdb_disk_mb"] = round(_du(state_dir) / 1e6, 1)
        svc.kill()  # as a crash: no flush, no commit, no goodbye
        svc.start()
        started = time.monotonic()
        svc.wait_ready(timeout)
        restarted = time.monotonic() - started
        rss = probes.peak_rss_mb(svc.proc.pid) if svc.proc else None
        svc.stop()
        figures["rocksdb_after_sigkill"] = {"seconds_to_ready": round(restarted, 2), "peak_rss_mb": rss}
        ctx.say(
            f"{n:,} patients: rocksdb restarted after SIGKILL, ready in {restarted:.1f} s "
            f"(peak RSS {rss or 0:.0f} MB; {figures['rocksdb_disk_mb']:,.0f} MB on disk)"
        )
        shutil.rmtree(state_dir, ignore_errors=True)
        return figures


def _timed_start(
    ctx: Context, stack: Any, label: str, extra: dict[str, str], timeout: float
) -> tuple[Any, dict[str, Any]]:
    started = time.monotonic()
    svc = start_service(stack, f"triage-{label}", timeout, module="triage", extra=extra)
    seconds = time.monotonic() - started
    rss = probes.peak_rss_mb(svc.proc.pid) if svc.proc else None
    ctx.say(f"{label}: ready in {seconds:.1f} s (peak RSS {rss or 0:.0f} MB)")
    return svc, {"seconds_to_ready": round(seconds, 2), "peak_rss_mb": rss}


def _core_states(ctx: Context) -> list[tuple[bytes, bytes]]:
    from carepath.resources import pathways_dir
    from triage.batch import Incoming, run_batch
    from triage.core import load_pathway

    pathway = load_pathway(pathways_dir() / "mscc")
    states: dict[bytes, bytes] = {}
    now = datetime.now(UTC)
    stamp = time.time()
    events = ctx.workload.events
    for i in range(0, len(events), CORE_BATCH):
        batch = [Incoming(e.key, e.value, stamp) for e in events[i : i + CORE_BATCH]]
        states.update(run_batch(batch, states.get, now, pathway).states)
    return list(states.items())


def _fill(bootstrap: str, topic: str, states: list[tuple[bytes, bytes]], n: int) -> float:
    """``n`` records on ``topic``: the states in turn, each copy past the first under a key of its own."""
    p = kafka_io.producer(bootstrap)
    try:
        p.partitions_for(topic)
        started = time.perf_counter()
        for i in range(n):
            key, value = states[i % len(states)]
            copy = i // len(states)
            p.send(topic, key=key if copy == 0 else key + b"~" + str(copy).encode(), value=value)
        p.flush()
        return time.perf_counter() - started
    finally:
        p.close()


def _mean(states: list[tuple[bytes, bytes]]) -> float:
    return sum(len(v) for _, v in states) / len(states) if states else 0.0


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
