"""Everything the triage and followup cores publish and keep over three sets of data, as one SHA-256 each.

    python -m tests.unit.compiled_replay [--source]

``--source`` runs the cores' modules from their Python sources even where compiled modules sit beside
them (an import finder that offers only the source loader for them). Prints a JSON object: whether each
core ran compiled, the digests, and how much went into them. tests/unit/test_compiled_cores.py runs it
both ways.

The data: the triage unit tests' synthetic cohort (late and redelivered events, every event type, units
converted) and a bench workload (the generator of ``make bench``) through triage's ``run_batch`` in
batches; the workload's events and the escalations triage raised from them through followup's
``run_inputs``, then a timer pass over every patient a day and a week later (``run_tick``); and every
conformance timeline (hospital-coded FHIR and HL7 v2 messages, through intake) through the reference
replay of both cores, whose published escalations and reminders are hashed too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.machinery as machinery
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

COMPILED_MODULES = ("triage.core.", "triage.batch", "followup.core.", "followup.batch")


class SourceOnly:
    """An import finder that loads the compiled modules from their ``.py`` files."""

    @classmethod
    def find_spec(cls, name: str, path: Sequence[str] | None = None, target: Any = None) -> Any:
        if not name.startswith(COMPILED_MODULES) or path is None:
            return None
        for entry in path:
            finder = machinery.FileFinder(entry, (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES))
            spec = finder.find_spec(name)
            if spec is not None:
                return spec
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", action="store_true")
    args = parser.parse_args(argv)
    if args.source:
        sys.meta_path.insert(0, SourceOnly)

    import followup.core
    import triage.core
    from carepath.resources import pathways_dir
    from carepath_tools.bench.workload import generate
    from followup import batch as followup_batch
    from tests.conformance import loader
    from tests.conformance.replay import CHANNELS, replay
    from tests.unit.triage.triage_cohort import cohort
    from triage import batch as triage_batch

    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    counts = {"events": 0, "escalations": 0, "reminders": 0, "audited": 0, "failures": 0}

    # triage
    red_flags = triage.core.load_pathway(pathways_dir() / "mscc")
    h = hashlib.sha256()
    states: dict[bytes, bytes] = {}
    raised: list[tuple[bytes, bytes]] = []

    def triage_batches(records: list[tuple[bytes, bytes]]) -> None:
        for i in range(0, len(records), 200):
            batch = [triage_batch.Incoming(k, v, 0.0) for k, v in records[i : i + 200]]
            result = triage_batch.run_batch(batch, states.get, now, red_flags)
            states.update(result.states)
            counts["events"] += len(batch)
            counts["escalations"] += len(result.outgoing)
            counts["failures"] += len(result.failures)
            for out in result.outgoing:
                h.update(out.key + b"\0" + out.value + b"\0")
                raised.append((out.key, out.value))
            for failure in result.failures:
                h.update(f"{failure.reason}|{failure.detail}\0".encode())
            h.update(f"duplicates {result.duplicates}\0".encode())

    triage_batches([(e["subject"].encode(), json.dumps(e).encode()) for e in cohort(300)])
    work = generate(3000, 5, datetime(2026, 1, 5, tzinfo=UTC), prefix="cc-")
    raised.clear()
    triage_batches([(e.key, e.value) for e in work.events])
    for key in sorted(states):
        h.update(key + b"\0" + states[key] + b"\0")
    triage_digest = h.hexdigest()

    # followup: the workload's events and what triage raised from them, then two timer passes
    follow = followup.core.load_pathway(pathways_dir() / "mscc")
    h = hashlib.sha256()
    kept: dict[bytes, bytes] = {}

    def record(result: Any) -> None:
        for stored in (result.intents, result.states):
            for key, value in stored.items():
                kept[key] = value.value
                h.update(key + b"\0" + value.value + b"\0")
        for out in result.outgoing:
            h.update(out.key + b"\0" + out.value + b"\0")
        for audited in result.audited:
            h.update(audited.key + b"\0" + audited.value + b"\0")
        for failure in result.failures:
            h.update(f"{failure.reason}|{failure.detail}\0".encode())
        counts["reminders"] += len(result.outgoing)
        counts["audited"] += len(result.audited)
        counts["failures"] += len(result.failures)

    inputs = [(e.key, e.value) for e in work.events] + raised
    for i in range(0, len(inputs), 500):
        batch = [followup_batch.Incoming(k, v) for k, v in inputs[i : i + 500]]
        record(followup_batch.run_inputs(batch, kept.get, now, follow))
    for later in (timedelta(days=1), timedelta(days=7)):
        record(followup_batch.run_tick(sorted(kept), kept.get, now + later, follow))
    followup_digest = h.hexdigest()

    # every conformance timeline through intake and both cores
    h = hashlib.sha256()
    timelines = 0
    for tl in loader.load_all():
        for channel in CHANNELS:
            run = asyncio.run(replay(tl, channel))
            timelines += 1
            for out in run.outputs:
                h.update(json.dumps([out.kind, out.at.isoformat(), out.event], sort_keys=True).encode())
            h.update("\n".join(run.refusals + run.failures).encode())
    print(
        json.dumps(
            {
                "compiled": {"triage": triage.core.COMPILED, "followup": followup.core.COMPILED},
                "digests": {"triage": triage_digest, "followup": followup_digest, "timelines": h.hexdigest()},
                "timeline_runs": timelines,
            }
            | counts
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
