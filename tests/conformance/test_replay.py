"""Every timeline of the corpus, replayed through intake's FHIR and HL7 channels and the triage and
followup cores (``replay.py``), is read whole - nothing refused - and raises exactly the escalations and
reminders it expects, on time, and none it forbids; both channels give the same ones."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.conformance.loader import Timeline, load_all
from tests.conformance.replay import CHANNELS, Run, replay

pytestmark = pytest.mark.contract

TIMELINES = load_all()


def outputs(run: Run) -> Counter[tuple[str, ...]]:
    """What a clinician would be sent: each escalation change by rule and severity, each reminder."""
    seen: Counter[tuple[str, ...]] = Counter()
    for o in run.outputs:
        if o.kind == "escalation":
            seen[(o.event["type"].rsplit(".", 2)[-2], o.data["rule"]["id"], o.data["severity"])] += 1
        else:
            seen[("reminder", o.data["expectation"]["id"], o.data["kind"])] += 1
    return seen


@pytest.mark.parametrize("timeline", TIMELINES, ids=[t.id for t in TIMELINES])
def test_the_timeline_is_read_and_alerted_as_expected_over_both_channels(timeline: Timeline) -> None:
    runs = {channel: asyncio.run(replay(timeline, channel)) for channel in CHANNELS}
    for channel, run in runs.items():
        assert run.refusals == [], f"{channel}: not read"
        assert run.failures == [], f"{channel}: expectations"
    assert outputs(runs["fhir"]) == outputs(runs["hl7"])
