"""Everything the triage core publishes and keeps over three sets of data, as one SHA-256.

    python -m tests.unit.triage.compiled_replay [--source]

``--source`` runs the core's modules from their Python sources even where compiled modules sit beside
them (an import finder that offers only the source loader for them). Prints a JSON object: whether the
core ran compiled, the digest, and how much went into it. tests/unit/triage/test_compiled_core.py runs it
both ways.

The data: the unit tests' synthetic cohort (late and redelivered events, every event type, units
converted), a bench workload (the same generator as ``make bench``), both through ``run_batch`` in batches,
and every conformance timeline (hospital-coded FHIR and HL7 v2 messages, through intake) through the
reference replay, whose published escalations and reminders are hashed too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.machinery as machinery
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

COMPILED_MODULES = ("triage.core.", "triage.batch")


class SourceOnly:
    """An import finder that loads the compiled modules from their ``.py`` files."""

    @classmethod
    def find_spec(cls, name: str, path: Sequence[str] | None = None, target: Any = None) -> Any:
        if not name.startswith(COMPILED_MODULES) or path is None:
            return None
        for entry in path:
            spec = machinery.FileFinder(
                entry, (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES)
            ).find_spec(name)
            if spec is not None:
                return spec
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", action="store_true")
    args = parser.parse_args(argv)
    if args.source:
        sys.meta_path.insert(0, SourceOnly)

    import triage.core
    from carepath.resources import pathways_dir
    from carepath_tools.bench.workload import generate
    from tests.conformance import loader
    from tests.conformance.replay import CHANNELS, replay
    from tests.unit.triage.triage_cohort import cohort
    from triage.batch import Incoming, run_batch

    pathway = triage.core.load_pathway(pathways_dir() / "mscc")
    h = hashlib.sha256()
    states: dict[bytes, bytes] = {}
    counts = {"events": 0, "published": 0, "failures": 0}

    def batches(records: list[tuple[bytes, bytes]], now: datetime) -> None:
        for i in range(0, len(records), 200):
            result = run_batch(
                [Incoming(k, v, 0.0) for k, v in records[i : i + 200]], states.get, now, pathway
            )
            states.update(result.states)
            counts["events"] += min(200, len(records) - i)
            counts["published"] += len(result.outgoing)
            counts["failures"] += len(result.failures)
            for out in result.outgoing:
                h.update(out.key + b"\0" + out.value + b"\0")
            for failure in result.failures:
                h.update(f"{failure.reason}|{failure.detail}\0".encode())
            h.update(f"duplicates {result.duplicates}\0".encode())

    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    events = cohort(300)
    batches([(e["subject"].encode(), json.dumps(e).encode()) for e in events], now)
    work = generate(3000, 5, datetime(2026, 1, 5, tzinfo=UTC), prefix="cc-")
    batches([(e.key, e.value) for e in work.events], now)
    for key in sorted(states):
        h.update(key + b"\0" + states[key] + b"\0")

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
            {"compiled": triage.core.COMPILED, "digest": h.hexdigest(), "timeline_runs": timelines} | counts
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
