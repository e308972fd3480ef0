"""Both runs of one feed and their comparison: what ``python -m carepath_tools.chaos`` and the e2e test
run."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from carepath_tools.chaos import feed as feeds
from carepath_tools.chaos.compare import Comparison, compare, summary
from carepath_tools.chaos.run import Output, Params, run


@dataclass
class Outcome:
    comparison: Comparison
    clean: Output
    faulty: Output
    summary: str
    elapsed_s: float

    @property
    def broken(self) -> list[str]:
        return self.comparison.broken


def chaos(params: Params, out: Path, say: Callable[[str], None] = print) -> Outcome:
    """The faulty run first (while the machine is freshest, so kills land under load), then the
    fault-free run of the same feed; compared by id."""
    started = time.monotonic()
    tag = uuid.uuid4().hex[:8]  # consumer groups of this invocation on a shared cluster
    feed = params.feed()
    say(
        f"feed: {feed.events:,} events, {feed.patients:,} patients ({feed.red_flag_patients} with MSCC red "
        f"flags), {feed.duration_s:.0f} s at {params.rate:g} ev/s; clock {params.scale:g}x"
        + ("; broker: KAFKA_BOOTSTRAP_SERVERS" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else "")
    )
    faulty = run(params, feed, out / "faulty", faulty=True, tag=tag, say=say)
    clean = run(params, feed, out / "fault-free", faulty=False, tag=tag, say=say)
    comparison = compare(clean, faulty)
    text = summary(comparison, clean, faulty, events=feed.events, patients=feed.patients)
    outcome = Outcome(comparison, clean, faulty, text, time.monotonic() - started)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(_document(outcome, params, feed), indent=2) + "\n")
    return outcome


def _document(o: Outcome, params: Params, feed: feeds.Feed) -> dict[str, Any]:
    return {
        "params": asdict(params),
        "feed": {"events": feed.events, "patients": feed.patients, "duration_s": feed.duration_s},
        "comparison": o.comparison.as_dict(),
        "kills": [asdict(k) for k in o.faulty.kills],
        "runs": {
            r.name: {
                "elapsed_s": round(r.elapsed_s, 1),
                "posted_events": r.posted_events,
                "resends": r.post_retries,
                "drained": r.drained,
                "republished": r.republished,
                "logs": str(r.log_dir),
            }
            for r in (o.clean, o.faulty)
        },
        "elapsed_s": round(o.elapsed_s, 1),
    }
