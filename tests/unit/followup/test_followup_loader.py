"""The follow-up pathway is validated at load: every mistake is a PathwayError naming the file, the place
and the problem, so the service refuses to start on a pathway it would misread."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from carepath.resources import pathways_dir
from followup.core import PathwayError, load_pathway

pytestmark = pytest.mark.unit

SOURCE = pathways_dir() / "mscc"
ORIGINAL: dict[str, Any] = yaml.safe_load((SOURCE / "followup.yaml").read_text())

Edit = Callable[[dict[str, Any]], None]


def rule(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(item for item in doc["expectations"] if item["id"] == rule_id)


def timed_by_severity(target: dict[str, Any], a1: dict[str, Any]) -> None:
    del target["deadline"], target["chain"]
    target["timing_by_severity"] = a1["timing_by_severity"]


def write(tmp_path: Path, edit: Edit) -> Path:
    shutil.copy(SOURCE / "pathway.yaml", tmp_path / "pathway.yaml")
    doc = copy.deepcopy(ORIGINAL)
    edit(doc)
    (tmp_path / "followup.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path


def test_the_shipped_pathway_loads() -> None:
    pathway = load_pathway(SOURCE)
    assert (pathway.id, pathway.version) == ("carepath-mscc", "1.0.0")
    ids = [r.id for r in pathway.expectations]
    assert ids == ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F9", "F10", "F11", "F12", "F13", "F14", "A1"]
    f3 = pathway.find("F3")
    assert f3 is not None and f3.timing is not None
    assert f3.timing.deadline.within.text == "PT24H" and f3.timing.warnings[0].at.text == "PT12H"


CASES: list[tuple[str, Edit, str]] = [
    (
        "unknown key",
        lambda d: rule(d, "F3").update(deadlin="PT24H"),
        r"followup.yaml: line \d+ expectations.\[2\].deadlin: unknown key 'deadlin'; allowed: .*deadline",
    ),
    (
        "bad duration",
        lambda d: rule(d, "F3")["deadline"].update(within="PT24X"),
        r"\(F3\).deadline.within: 'PT24X' is not an ISO 8601 duration",
    ),
    (
        "months",
        lambda d: rule(d, "F11")["deadline"].update(within="P1M"),
        r"\(F11\).deadline.within: 'P1M' uses years or months",
    ),
    (
        "zero duration",
        lambda d: rule(d, "F1")["deadline"].update(within="PT0S"),
        r"\(F1\).deadline.within: 'PT0S' must be longer than zero",
    ),
    (
        "warning after deadline",
        lambda d: rule(d, "F3")["warnings"][0].update(at="PT30H"),
        r"\(F3\).warnings\[0\].at: warning at PT30H is not before the deadline PT24H",
    ),
    (
        "unknown rule id",
        lambda d: rule(d, "F3")["opened_by"][0]["escalation_raised"].update(rules=["R1", "R99"]),
        r"\(F3\).opened_by\[0\].escalation_raised.rules: unknown triage rule id 'R99'",
    ),
    (
        "unknown category",
        lambda d: rule(d, "F10")["opened_by"][0]["treatment"].update(category=["very_strong_opioid"]),
        r"\(F10\).opened_by\[0\].treatment.category: unknown treatment category 'very_strong_opioid'",
    ),
    (
        "unknown step",
        lambda d: rule(d, "F1")["satisfied_when"][0]["any_of"][0]["care_step"].update(
            step=["coordinator_called"]
        ),
        r"\(F1\).satisfied_when\[0\].any_of\[0\].care_step.step: unknown care_step step 'coordinator_called'",
    ),
    (
        "unknown field",
        lambda d: rule(d, "F3")["satisfied_when"][0]["any_of"][0]["imaging"].update(contrast=["yes"]),
        r"imaging.contrast: unknown key 'contrast'; allowed: compression, modality, region, report_status",
    ),
    (
        "unknown event kind",
        lambda d: rule(d, "F10")["opened_by"].append({"prescription": {}}),
        r"line \d+ expectations.\[8\].opened_by.\[1\].prescription: unknown key 'prescription'",
    ),
    ("empty chain", lambda d: rule(d, "F4").update(chain=[]), r"\(F4\).chain: must not be empty"),
    ("no chain", lambda d: rule(d, "F4").pop("chain"), r"\(F4\): an escalation chain is required"),
    (
        "unknown role",
        lambda d: rule(d, "F4")["chain"][0].update(notify="porter"),
        r"\(F4\).chain\[0\].notify: unknown role 'porter'",
    ),
    (
        "level 1 with after",
        lambda d: rule(d, "F4")["chain"][0].update(after="PT1H"),
        r"\(F4\).chain\[0\].after: level 1 fires at the deadline",
    ),
    (
        "level 2 without after",
        lambda d: rule(d, "F4")["chain"][1].pop("after"),
        r"\(F4\).chain\[1\]: level 2 needs 'after'",
    ),
    (
        "evidence tag",
        lambda d: rule(d, "F2")["deadline"].update(evidence="X"),
        r"expectations.\[1\].deadline.evidence: 'X' is not one of \['P', 'S', 'G'\]",
    ),
    ("duplicate id", lambda d: rule(d, "F2").update(id="F1"), r"expectation id F1 appears twice"),
    (
        "bad id",
        lambda d: rule(d, "F2").update(id="F-2"),
        r"expectations.\[1\].id: an expectation id like F3 or A1 expected, not 'F-2'",
    ),
    (
        "pathway id",
        lambda d: d.update(pathway="another-pathway"),
        r"followup.yaml: pathway: 'another-pathway' does not match pathway.yaml id 'carepath-mscc'",
    ),
    (
        "severity missing",
        lambda d: rule(d, "A1")["timing_by_severity"].pop("urgent"),
        r"\(A1\).timing_by_severity: missing urgent",
    ),
    (
        "severity timing without an escalation",
        lambda d: timed_by_severity(rule(d, "F10"), rule(d, "A1")),
        r"\(F10\).timing_by_severity: needs every opening to be an escalation",
    ),
    (
        "both timings",
        lambda d: rule(d, "A1").update(deadline={"within": "PT1H", "evidence": "G"}),
        r"\(A1\): give either timing_by_severity or deadline, not both",
    ),
    (
        "opening escalation without one",
        lambda d: rule(d, "F10")["cancelled_by"].append({"escalation_resolved": {"of": "opening"}}),
        r"\(F10\).cancelled_by\[2\].escalation_resolved.of: 'opening' cannot be used: it is not opened by an",
    ),
    (
        "earliest after deadline",
        lambda d: rule(d, "F11")["satisfied_when"][0]["any_of"][0].update(earliest="P30D"),
        r"\(F11\).satisfied_when\[0\].any_of\[0\].earliest: P30D is not before the deadline P28D",
    ),
    (
        "clock start on a non-escalation opening",
        lambda d: rule(d, "F10").update(clock_starts="at_raised"),
        r"\(F10\).clock_starts: applies only to an expectation opened by an escalation",
    ),
    (
        "repeat opening",
        lambda d: rule(d, "F10").update(repeat_opening="sometimes"),
        r"expectations.\[8\].repeat_opening: 'sometimes' is not one of \['merge', 'separate'\]",
    ),
    (
        "no expectations",
        lambda d: d.update(expectations=[]),
        r"line 2 expectations: \[\] should be non-empty",
    ),
    (
        "escalation_open outside a condition",
        lambda d: rule(d, "F10")["opened_by"].append({"escalation_open": {"rules": ["R1"]}}),
        r"\(F10\).opened_by\[1\]: escalation_open describes the record",
    ),
]


@pytest.mark.parametrize(("edit", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_mistake_is_named(tmp_path: Path, edit: Edit, message: str) -> None:
    with pytest.raises(PathwayError, match=message):
        load_pathway(write(tmp_path, edit))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    shutil.copy(SOURCE / "pathway.yaml", tmp_path / "pathway.yaml")
    with pytest.raises(PathwayError, match=r"followup.yaml: cannot read"):
        load_pathway(tmp_path)


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    shutil.copy(SOURCE / "pathway.yaml", tmp_path / "pathway.yaml")
    (tmp_path / "followup.yaml").write_text("expectations: [\n")
    with pytest.raises(PathwayError, match=r"followup.yaml: not valid YAML"):
        load_pathway(tmp_path)


def test_a_deadline_written_twice_stops_loading_naming_the_key_and_line(tmp_path: Path) -> None:
    """YAML would keep the second of two equal keys: F1's 1 hour would silently become 72 hours."""
    shutil.copy(SOURCE / "pathway.yaml", tmp_path / "pathway.yaml")
    lines = (SOURCE / "followup.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    deadline:"))
    lines.insert(at + 1, "    deadline: P3D")
    (tmp_path / "followup.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        PathwayError, match=rf"key 'deadline' is written twice.*line {at + 2}|line {at + 2}.*'deadline'"
    ):
        load_pathway(tmp_path)
