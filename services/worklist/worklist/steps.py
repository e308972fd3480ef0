"""The follow-up steps the page names and assigns to teams, read from the pathway definition followup runs
(``CAREPATH_PATHWAY_DIR``), through followup's own reader: one reading of the file, one validation."""

from __future__ import annotations

from pathlib import Path

from followup.core import load_pathway
from worklist.rows import Step, Steps


def steps(pathway_dir: Path) -> Steps:
    """Each expectation's words and the team its chain notifies first, per severity ("" when the timing
    does not depend on severity)."""
    out: dict[str, Step] = {}
    for rule in load_pathway(pathway_dir).expectations:
        timings = dict(rule.timing_by_severity or {})
        if rule.timing is not None:
            timings[""] = rule.timing
        first = {sev: plan[0].notify for sev, t in timings.items() if (plan := t.plan())}
        out[rule.id] = Step(rule.expected, first)
    return out
