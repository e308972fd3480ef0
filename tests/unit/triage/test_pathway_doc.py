"""python -m triage.pathway_doc: the red-flag pathway as a document for clinical sign-off."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.triage.triage_spec import PATHWAY_DIR, pathway
from triage.pathway_doc import main, render

pytestmark = pytest.mark.unit


def test_document_names_the_version_and_every_rule_with_its_parts() -> None:
    """Sign-off needs every rule's trigger, actions and deadlines, resolutions, source and notes."""
    document = render(pathway())
    assert "Pathway `carepath-mscc`, version **1.0.0**, status **draft**." in document
    for rule in pathway().rules:
        section = document.split(f"## {rule.id} {rule.name} (")[1].split("\n## ")[0]
        assert rule.trigger in section
        assert rule.source in section
        for action in rule.actions:
            assert f"| {action.action} |" in section and f"(`{action.within}`)" in section
        for resolver in rule.resolvers:
            assert resolver.resolution in section
        if rule.notes:
            assert rule.notes in section


def test_local_defaults_are_flagged() -> None:
    """[G] items are visibly marked as local defaults."""
    document = render(pathway())
    r1 = document.split("## R1 MSCC_SUSPECTED")[1].split("\n## ")[0]
    assert (
        "| Contact the MSCC coordinator or acute oncology team now | 1 hour (`PT1H`) | always | **[G] local default** |"
        in r1
    )
    assert "| Whole-spine MRI | 24 hours (`PT24H`) | always | [P] |" in r1
    r12 = document.split("## R12 PAIN_ESCALATION")[1].split("\n## ")[0]
    assert "- **[G] local default** `baseline_within`:" in r12


def test_thresholds_and_code_sets_are_spelled_out() -> None:
    """Thresholds, durations and code sets appear as the engine uses them."""
    document = render(pathway())
    assert "- above: 3.5\n  - unit: mmol/L" in document
    assert "code set `neurological_features` (neurological: limb_weakness, walking_difficulty" in document
    assert "- persistent after: 4 weeks (`P4W`)" in document


def test_command_writes_the_file(tmp_path: Path) -> None:
    """--out writes the document."""
    out = tmp_path / "redflags.md"
    assert main(["--pathway", str(PATHWAY_DIR), "--out", str(out)]) == 0
    assert out.read_text().startswith(
        "# Cancer-related back pain, spinal metastases and MSCC: red-flag rules"
    )
