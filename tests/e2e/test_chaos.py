"""Chaos, short: SIGKILL and restart workers at random under a steady feed, then the same feed without
faults, compared by id (``make chaos`` is the long version; see carepath_tools.chaos).

Two triage and two followup workers, intake and the notifier delivering to a webhook on 127.0.0.1, on
a steered clock at 3600x: timelines end 10 real seconds ahead of the clock, and every deadline due in
the 16 real seconds (hours) after the last one is compared.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from carepath_tools.chaos.experiment import chaos
from carepath_tools.chaos.run import Params

pytestmark = pytest.mark.e2e

PARAMS = Params(
    events=1_500,
    patients=500,
    rate=200.0,
    lead_s=10.0,
    window_s=16.0,
    kills=6,
    seed=11,
    ready_timeout_s=90.0,
    drain_timeout_s=90.0,
)


@pytest.mark.timeout(420)  # generous: the two runs take about two minutes on an idle two-core machine
def test_random_sigkills_lose_nothing_add_nothing_and_deliver_each_id_once_unless_in_doubt(
    tmp_path: Path,
) -> None:
    outcome = chaos(PARAMS, tmp_path / "chaos", say=lambda m: print(m, flush=True))
    print(outcome.summary)
    c, clean, faulty = outcome.comparison, outcome.clean, outcome.faulty

    assert len(faulty.kills) >= 5
    assert clean.posted_events == faulty.posted_events >= 1_500
    assert c.escalation_ids > 0 and c.reminder_ids > 0, "the feed raised no escalation or no reminder"
    assert c.lost == {"escalations": [], "reminders": []}
    assert c.only_faulty == {"escalations": [], "reminders": []}
    for run in (clean, faulty):
        assert run.drained, run.drain_note
        published = {i for i, _ in run.escalations} | {i for i, _, _ in run.reminders}
        assert set(run.deliveries) == published and min(run.deliveries.values()) == 1
        # Beyond one delivery per id: only requests in flight at a kill, sent again and counted.
        extra = sum(n - 1 for n in run.deliveries.values())
        assert extra <= run.in_doubt, (run.name, Counter(run.deliveries.values()), run.in_doubt)
    assert all(k.resumed_s is not None and k.error is None for k in faulty.kills), faulty.kills
    assert outcome.broken == []
