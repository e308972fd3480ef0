"""A configuration file with a key written twice (or unknown, or of the wrong type) stops the process that
reads it at start-up, with a message naming the file, the line and the key: one case per kind of file.

YAML keeps the last of two equal keys without a word, so a second ``deadline:`` under F1 would quietly turn
one hour into three days. Each case copies a shipped file, spoils it, and starts the real process that
reads it (a service, the demo driver or the terminology check); all of them start at once and none gets as
far as the broker, which is not there (every process must refuse before it would connect).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from carepath.resources import ROOT
from carepath_tools.broker import free_port

pytestmark = pytest.mark.integration

PATHWAY = ROOT / "pathways" / "mscc"
NOWHERE = "127.0.0.1:9"  # no broker: a process that got past its configuration would hang or fail later


def _insert_after(path: Path, anchor: str, line: str) -> int:
    """Insert ``line`` after the first line containing ``anchor``; the new line's number (from 1)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if anchor in text)
    text = lines[index]
    indent = text[: len(text) - len(text.lstrip())]
    if text.lstrip().startswith("- "):  # a key of the list item's mapping
        indent += "  "
    lines.insert(index + 1, indent + line + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return index + 2


@dataclass(frozen=True)
class Case:
    """What to spoil, which process reads it, and what its refusal must name."""

    kind: str
    spoil: Callable[[Path], tuple[Path, int]]  # folder -> (the file spoiled, the line to be named)
    command: Callable[[Path], list[str]]
    env: Callable[[Path], dict[str, str]]
    names: Callable[[Path, int], list[str]]  # what the message must contain


def _pathway_copy(folder: Path) -> Path:
    target = folder / "pathways" / "mscc"
    shutil.copytree(PATHWAY, target)
    return target


def _site_file(folder: Path, source: Path, anchor: str, line: str) -> tuple[Path, int]:
    path = folder / source.name
    shutil.copy(source, path)
    return path, _insert_after(path, anchor, line)


SERVICE_ENV = {
    "CAREPATH_ENVIRONMENT": "test",
    "KAFKA_BOOTSTRAP_SERVERS": NOWHERE,
    "CAREPATH_INTAKE_MLLP_PORT": "0",  # intake: no MLLP listener
    "CAREPATH_INTAKE_PORT": str(free_port()),
    "CAREPATH_SCHEMAS_DIR": str(ROOT / "schemas"),
}
PYTHON = sys.executable

CASES: dict[str, Case] = {
    "pathway.yaml (triage)": Case(
        "pathway",
        lambda f: (p := _pathway_copy(f) / "pathway.yaml", _insert_after(p, "version: ", "version: 9.9.9")),
        lambda f: [PYTHON, "-m", "triage"],
        lambda f: {
            "CAREPATH_PATHWAY_DIR": str(f / "pathways" / "mscc"),
            "CAREPATH_TRIAGE_PORT": str(free_port()),
        },
        lambda p, n: ["pathway.yaml", f"line {n}", "key 'version' is written twice"],
    ),
    "redflags.yaml (triage)": Case(
        "redflags",
        lambda f: (p := _pathway_copy(f) / "redflags.yaml", _insert_after(p, "- id: R1", "id: R1")),
        lambda f: [PYTHON, "-m", "triage"],
        lambda f: {
            "CAREPATH_PATHWAY_DIR": str(f / "pathways" / "mscc"),
            "CAREPATH_TRIAGE_PORT": str(free_port()),
        },
        lambda p, n: ["redflags.yaml", f"line {n}", "key 'id' is written twice"],
    ),
    "followup.yaml (followup): a second deadline": Case(
        "followup",
        lambda f: (
            p := _pathway_copy(f) / "followup.yaml",
            _insert_after(p, "deadline: {within: PT1H", "deadline: {within: PT72H, evidence: G}"),
        ),
        lambda f: [PYTHON, "-m", "followup"],
        lambda f: {
            "CAREPATH_PATHWAY_DIR": str(f / "pathways" / "mscc"),
            "CAREPATH_FOLLOWUP_PORT": str(free_port()),
        },
        lambda p, n: ["followup.yaml", f"line {n}", "key 'deadline' is written twice"],
    ),
    "followup.yaml (followup): an unknown key": Case(
        "followup",
        lambda f: (
            p := _pathway_copy(f) / "followup.yaml",
            _insert_after(p, "deadline: {within: PT1H", "deadlin: {within: PT72H, evidence: G}"),
        ),
        lambda f: [PYTHON, "-m", "followup"],
        lambda f: {
            "CAREPATH_PATHWAY_DIR": str(f / "pathways" / "mscc"),
            "CAREPATH_FOLLOWUP_PORT": str(free_port()),
        },
        lambda p, n: ["followup.yaml", f"line {n}", ".deadlin: unknown key 'deadlin'"],
    ),
    "terminology value sets (intake)": Case(
        "terminology-value-sets",
        lambda f: (
            p := _pathway_copy(f) / "terminology" / "labs.yaml",
            _insert_after(p, "- id: lab.calcium", "id: lab.albumin"),
        ),
        lambda f: [PYTHON, "-m", "intake"],
        lambda f: {"CAREPATH_PATHWAYS_DIR": str(f / "pathways")},
        lambda p, n: ["labs.yaml", f"line {n}", "key 'id' is written twice"],
    ),
    "terminology systems (terminology check)": Case(
        "terminology-systems",
        lambda f: (
            p := _pathway_copy(f) / "terminology" / "systems.yaml",
            _insert_after(p, "- uri: http://loinc.org", "uri: http://snomed.info/sct"),
        ),
        lambda f: [
            PYTHON,
            "-m",
            "carepath.terminology",
            "--dir",
            str(f / "pathways/mscc/terminology"),
            "check",
        ],
        lambda f: {},
        lambda p, n: ["systems.yaml", f"line {n}", "key 'uri' is written twice"],
    ),
    "site value sets (intake)": Case(
        "terminology-site",
        lambda f: _site_file(f, ROOT / "deploy/sites/example/terminology.yaml", "version: ", 'version: "9"'),
        lambda f: [PYTHON, "-m", "intake"],
        lambda f: {"CAREPATH_TERMINOLOGY_SITE": str(f / "terminology.yaml")},
        lambda p, n: ["terminology.yaml", f"line {n}", "key 'version' is written twice"],
    ),
    "HL7 v2 site code map (intake)": Case(
        "hl7-codes",
        lambda f: _site_file(f, ROOT / "tests/unit/hl7/site-codes.yaml", "version: 1", "version: 1"),
        lambda f: [PYTHON, "-m", "intake"],
        lambda f: {
            "CAREPATH_HL7_CODES": str(f / "site-codes.yaml"),
            "CAREPATH_INTAKE_MLLP_PORT": str(free_port()),
        },
        lambda p, n: ["site-codes.yaml", f"line {n}", "key 'version' is written twice"],
    ),
    "FHIR site code map (intake)": Case(
        "fhir-codes",
        lambda f: _site_file(f, ROOT / "services/intake/intake/fhir/codes.yaml", "version: ", 'version: "2"'),
        lambda f: [PYTHON, "-m", "intake"],
        lambda f: {"CAREPATH_FHIR_CODES": str(f / "codes.yaml")},
        lambda p, n: ["codes.yaml", f"line {n}", "key 'version' is written twice"],
    ),
    "notifier endpoints (notifier): a second url": Case(
        "notifier-endpoints",
        lambda f: _site_file(
            f, ROOT / "deploy/notifier/endpoints.yml", "url: https://pager", "url: http://x.test"
        ),
        lambda f: [PYTHON, "-m", "notifier"],
        lambda f: {
            "CAREPATH_NOTIFIER_CONFIG": str(f / "endpoints.yml"),
            "CAREPATH_NOTIFIER_PORT": str(free_port()),
        },
        lambda p, n: ["endpoints.yml", f"line {n}", "key 'url' is written twice"],
    ),
    "notifier endpoints (notifier): a wrong type": Case(
        "notifier-endpoints",
        lambda f: _site_file(f, ROOT / "deploy/notifier/endpoints.yml", "timeout_s: 5", "concurrency: two"),
        lambda f: [PYTHON, "-m", "notifier"],
        lambda f: {
            "CAREPATH_NOTIFIER_CONFIG": str(f / "endpoints.yml"),
            "CAREPATH_NOTIFIER_PORT": str(free_port()),
        },
        lambda p, n: [
            "endpoints.yml",
            f"line {n}",
            "endpoints.[0].concurrency: a whole number expected, got a text",
        ],
    ),
    "demo feed (make run)": Case(
        "demo-feed",
        lambda f: _site_file(f, ROOT / "demo/feed.yaml", "- id: demo-0001", "id: demo-0009"),
        lambda f: [
            PYTHON,
            "-m",
            "carepath_tools.demo",
            "--feed",
            str(f / "feed.yaml"),
            "--log-dir",
            str(f / "logs"),
        ],
        lambda f: {},
        lambda p, n: ["feed.yaml", f"line {n}", "key 'id' is written twice"],
    ),
}


@dataclass
class Outcome:
    path: Path
    line: int
    returncode: int | None
    output: str


# Processes started together: every case at once put a dozen Python start-ups on two cores together, which
# beside two CPU burners took the other test process's services past their own start-up bounds too.
AT_ONCE = 4
WAVE_S = 90.0  # a wave's processes have this long to refuse (each refusal is a Python start-up, ~2 s idle)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every case's process, AT_ONCE at a time, each wave given WAVE_S to refuse."""
    running: dict[str, tuple[Path, int, subprocess.Popen[str]]] = {}
    results: dict[str, Outcome] = {}
    names = list(CASES)
    try:
        for start in range(0, len(names), AT_ONCE):
            wave = names[start : start + AT_ONCE]
            for name in wave:
                case = CASES[name]
                folder = tmp_path_factory.mktemp(case.kind)
                path, line = case.spoil(folder)
                env = {**os.environ, **SERVICE_ENV, **case.env(folder)}
                proc = subprocess.Popen(
                    case.command(folder),
                    env=env,
                    cwd=folder,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                running[name] = (path, line, proc)
            deadline = time.monotonic() + WAVE_S
            for name in wave:
                path, line, proc = running[name]
                try:
                    output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
                    results[name] = Outcome(path, line, proc.returncode, output)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    output, _ = proc.communicate(timeout=10)
                    results[name] = Outcome(path, line, None, output)
        yield results
    finally:
        for _, _, proc in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.mark.timeout(int(WAVE_S * -(-len(CASES) // AT_ONCE)) + 60)  # the first test waits for every wave
@pytest.mark.parametrize("name", list(CASES))
def test_a_spoiled_configuration_file_stops_start_up_naming_file_line_and_key(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[name]
    assert outcome.returncode is not None, (
        f"{name}: still running after {WAVE_S:.0f} s:\n{outcome.output[-2000:]}"
    )
    assert outcome.returncode != 0, f"{name}: started anyway:\n{outcome.output[-2000:]}"
    for part in CASES[name].names(outcome.path, outcome.line):
        assert part in outcome.output, f"{name}: {part!r} not in the refusal:\n{outcome.output[-2000:]}"


def test_every_kind_of_configuration_file_has_a_case() -> None:
    from carepath import yamlfile

    covered = {case.kind for case in CASES.values()}
    # radiology.yaml ships inside intake and has no setting to replace it: its loader is tested directly
    # (tests/unit/platform/test_config_files.py)
    assert set(yamlfile.KINDS) - covered == {"radiology"}
