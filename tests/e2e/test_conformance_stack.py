"""The whole conformance corpus through a running carepath, over FHIR and over HL7 v2 at once.

Real broker, real processes (an intake per hospital, triage, followup), the example site file, a steered
clock (``tests/conformance/stack_replay.py``): every timeline must be read whole - no input refused or
parked - raise every escalation and reminder it expects on time and none it forbids, and give the same
escalations and reminders over both channels.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import loader
from tests.conformance.stack_replay import CHANNELS, channel_differences, run

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
def test_every_timeline_over_both_channels_through_the_running_stack(tmp_path: Path) -> None:
    summary = run(loader.load_all(), CHANNELS, tmp_path / "stack")
    report = "\n".join(summary.lines())
    print(report)
    failed = [
        f"{c.original.id} {c.channel}: " + "; ".join(c.refusals + c.failures)
        for c in summary.copies
        if not c.passed
    ]
    assert not failed, "\n".join(failed) + "\n" + report
    assert summary.parked == 0, report
    assert channel_differences(summary.copies) == [], report
    assert len(summary.copies) == 2 * len(loader.load_all()) >= 80
