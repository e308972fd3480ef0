"""Scale-out, short: triage and followup go from one worker each to two and three on a 12-partition topic
set under a steady feed, then one is stopped with SIGTERM and another killed with SIGKILL; the same feed
through one worker each, never changed, must give the same escalations, reminders and webhook deliveries
(``make bench`` runs the long version: ``python -m carepath_tools.bench --phases scaleout``; see
carepath_tools.chaos.scaleout).

Both runs at once, each on an embedded broker of its own, intake, the notifier delivering to a webhook on
127.0.0.1 and a steered clock at 3600x: 100 events a second for 50 s, timelines ending 8 real seconds ahead
of the clock, and every deadline due in the 6 real seconds (hours) after the last one compared. The
session's partition count (4, tests/conftest.py) is set back afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath import topics
from carepath_tools.chaos.run import Params
from carepath_tools.chaos.scaleout import ROLES, Setup, planned_workers, scale_out
from carepath_tools.chaos.schedule import SCALE_OUT, SIGKILL, SIGTERM, START

pytestmark = pytest.mark.e2e

PARAMS = Params(
    events=5_000,
    patients=500,
    rate=100.0,
    lead_s=8.0,
    window_s=6.0,
    kills=0,
    seed=7,
    ready_timeout_s=120.0,
    drain_timeout_s=120.0,
)
SETUP = Setup(partitions=12, steps=SCALE_OUT, min_segment_s=3.0, parallel=True)


# Generous: about two minutes on two cores, with or without two CPU burners beside it.
@pytest.mark.timeout(540)
def test_workers_added_stopped_and_killed_under_load_change_no_escalation_reminder_or_delivery(
    tmp_path: Path,
) -> None:
    session_partitions = topics.partitions()
    outcome = scale_out(PARAMS, tmp_path / "scaleout", SETUP, say=lambda m: print(m, flush=True))
    print(outcome.summary)
    c, reference, scaled = outcome.comparison, outcome.reference, outcome.scaled

    # The partition count was the experiment's, and is the session's again.
    assert reference.extra["input_partitions"] == scaled.extra["input_partitions"] == 12
    assert topics.partitions() == session_partitions

    # The same escalations and reminders as one worker each, none lost, none only in the scale-out run.
    assert reference.posted_events == scaled.posted_events >= 5_000
    assert c.escalation_ids > 0 and c.reminder_ids > 0, "the feed raised no escalation or no reminder"
    assert c.lost == {"escalations": [], "reminders": []}
    assert c.only_faulty == {"escalations": [], "reminders": []}
    # None reaches a clinician twice: the notifier is never stopped, so every id is delivered exactly once.
    for run in (reference, scaled):
        assert run.drained, run.drain_note
        # No patient's expectations written over with an empty state (each run's changelog, read back).
        assert run.extra["followup_states_emptied"] == 0, run.name
        published = {i for i, _ in run.escalations} | {i for i, _, _ in run.reminders}
        assert set(run.deliveries) == published
        assert set(run.deliveries.values()) == {1}, (run.name, run.in_doubt)

    # Every change happened and was over: 1 -> 2 -> 3 workers, then 3 -> 2 by SIGTERM and 2 -> 1 by SIGKILL.
    assert not scaled.schedule_error
    assert reference.changes == []
    for role in ROLES:
        mine = [x for x in scaled.changes if x.role == role]
        assert [x.action for x in mine] == [START, START, SIGTERM, SIGKILL]
        assert [x.workers for x in mine] == planned_workers(SETUP.steps, role) == [2, 3, 2, 1]
        for x in mine:
            assert x.error is None and x.resumed_s is not None and x.began_s is not None, x
            if x.observed:  # a poll saw the group rebalancing, and every worker ready again
                assert x.rebalanced_s is not None and 0 <= x.rebalanced_s <= x.resumed_s, x
        start, _, term, kill = mine[0], mine[1], mine[2], mine[3]
        assert start.started_s is not None
        assert term.exit_code == 0, term  # a SIGTERMed worker stops by itself, cleanly
        assert kill.exit_code == -9, kill

    # The pauses and the throughput are reported.
    pauses = outcome.document["pause_s"]
    assert pauses["all"]["n"] == 8 and 0 < pauses["all"]["p50"] <= pauses["all"]["max"]
    for role in ROLES:
        figures = outcome.document["throughput"][role]
        (whole,) = figures["reference"]
        assert whole["workers"] == 1 and whole["records"] > 0 and whole["cpu_us_per_record"] > 0
        first = next(s for s in scaled.segments if s.role == role)
        change = next(x for x in scaled.changes if x.role == role)
        # Opened as the feed began, before the role's first change: how many tenths of a second after the
        # feed's start depends on the machine's load (the broker is asked for the group's positions first).
        assert first.workers == 1 and first.records > 0 and first.from_s < change.at_s, (first, change)
        assert all(row["workers"] in (1, 2, 3) for row in figures["by_workers"])
    assert "not a speed-up" in outcome.summary
    assert outcome.broken == []
