"""The compiled core (README "The compiled core") is held to its Python sources, and a compiled core left
from older sources refuses to load.

mypyc compiles the same sources; what could differ is behaviour mypyc adds (a type checked at run time
where Python would go on) or a defect in the compiler. So the core is run both ways, compiled and from its
sources, over the unit tests' synthetic cohort, a bench workload and every conformance timeline
(hospital-coded FHIR and HL7 v2 through intake), and everything it publishes and keeps must be identical.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from triage import compiled

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def _replay(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.triage.compiled_replay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_compiled_core_publishes_and_keeps_exactly_what_its_sources_do() -> None:
    # make setup compiles it unless CAREPATH_COMPILE_CORE=0 (set, or no C compiler): then both runs are
    # the sources, and this test checks only that the core is not compiled.
    expected = os.environ.get("CAREPATH_COMPILE_CORE", "1") != "0"
    ran = _replay()
    source = _replay("--source")
    assert ran["compiled"] is expected, (
        "the triage core is not compiled: run `make setup`" if expected else "the core runs compiled"
    )
    assert source["compiled"] is False
    assert ran["timeline_runs"] >= 90 and ran["events"] > 10_000 and ran["published"] > 2_000, ran
    assert ran["failures"] == 0, ran
    assert {**ran, "compiled": None} == {**source, "compiled": None}


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "triage"
    shutil.copytree(
        compiled.PACKAGE / "core", package / "core", ignore=shutil.ignore_patterns("*.so", "*.sha256")
    )
    shutil.copy(compiled.PACKAGE / "batch.py", package / "batch.py")
    return package


def test_a_core_compiled_from_other_sources_refuses_to_load(tmp_path: Path) -> None:
    package = _package(tmp_path)
    module = str(package / "core" / "engine.cpython-311-x86_64-linux-gnu.so")
    compiled.record(package)
    assert compiled.check(module, package) is True
    units = package / "core" / "units.py"
    units.write_text(units.read_text(encoding="utf-8") + "# edited after compiling\n", encoding="utf-8")
    with pytest.raises(compiled.StaleBuild, match="make setup"):
        compiled.check(module, package)
    (package / "batch.py").write_text("", encoding="utf-8")
    compiled.record(package)
    assert compiled.check(module, package) is True  # compiled again: the digest covers batch.py too
    (package / "batch.py").write_text("# edited\n", encoding="utf-8")
    with pytest.raises(compiled.StaleBuild):
        compiled.check(module, package)


def test_a_core_compiled_without_a_recorded_digest_refuses_to_load(tmp_path: Path) -> None:
    package = _package(tmp_path)
    with pytest.raises(compiled.StaleBuild):
        compiled.check(str(package / "core" / "engine.abi3.so"), package)


def test_sources_run_as_python_need_no_digest(tmp_path: Path) -> None:
    package = _package(tmp_path)
    assert compiled.check(str(package / "core" / "engine.py"), package) is False
    assert compiled.check(None, package) is False
