"""The compiled cores (README "The compiled core") are held to their Python sources.

mypyc compiles the same sources; what could differ is behaviour mypyc adds (a type checked at run time
where Python would go on) or a defect in the compiler. So both cores are run both ways, compiled and from
their sources, over the triage unit tests' synthetic cohort, a bench workload (through triage, then its
events and escalations through followup with two timer passes) and every conformance timeline
(hospital-coded FHIR and HL7 v2 through intake), and everything they publish and keep must be identical.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _replay(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.compiled_replay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_compiled_cores_publish_and_keep_exactly_what_their_sources_do() -> None:
    # make setup compiles them unless CAREPATH_COMPILE_CORE=0 (set, or no C compiler): then both runs are
    # the sources, and this test checks only that the cores are not compiled.
    expected = os.environ.get("CAREPATH_COMPILE_CORE", "1") != "0"
    ran = _replay()
    source = _replay("--source")
    assert ran["compiled"] == {"triage": expected, "followup": expected}, (
        "a core is not compiled: run `make setup`" if expected else "a core runs compiled"
    )
    assert source["compiled"] == {"triage": False, "followup": False}
    assert ran["timeline_runs"] >= 90 and ran["events"] > 10_000, ran
    assert ran["escalations"] > 1_000 and ran["reminders"] > 1_000 and ran["audited"] > 1_000, ran
    assert ran["failures"] == 0, ran
    assert {**ran, "compiled": None} == {**source, "compiled": None}


# Made for every event or every stored expectation: dataclasses' generated __init__ runs as Python even in
# a compiled module (~0.6 µs for five frozen fields against ~0.03 µs compiled), so these write their own.
PER_EVENT = {
    "triage.core.events": ["ClinicalEvent"],
    "triage.core.finding": ["Explanation", "Finding", "Resolution"],
    "triage.core.outcome": ["Escalation", "Outcome"],
    "triage.core.kinds.pain_escalation": ["Assessment"],
    "triage.batch": ["Outgoing"],
    "followup.core.inputs": ["Input"],
    "followup.core.engine": ["Outcome"],
    "followup.core.audit": ["AuditRecord"],
    "followup.core.reminders": ["Reminder"],
    "followup.core.state": [
        "Step",
        "Resolving",
        "OpenExpectation",
        "ClosedExpectation",
        "Fact",
        "Ack",
        "PatientExpectations",
    ],
    "followup.batch": ["Outgoing", "Audited", "Stored"],
}


@pytest.mark.parametrize("module", PER_EVENT)
def test_classes_made_per_event_are_built_by_compiled_code(module: str) -> None:
    loaded = importlib.import_module(module)
    compiled = loaded.__file__ is not None and loaded.__file__.endswith(".so")
    assert compiled is (os.environ.get("CAREPATH_COMPILE_CORE", "1") != "0")
    for name in PER_EVENT[module]:
        cls = getattr(loaded, name)
        assert dataclasses.is_dataclass(cls) and "__init__" in vars(cls), name
        if compiled:  # a Python function here is the one dataclasses generated
            assert not inspect.isfunction(cls.__init__), f"{module}.{name}.__init__ runs as Python"
