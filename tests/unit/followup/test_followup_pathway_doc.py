"""``python -m followup.pathway_doc`` renders the follow-up pathway for sign-off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carepath.resources import pathways_dir
from followup import pathway_doc
from followup.core import load_pathway

pytestmark = pytest.mark.unit


def test_renders_every_expectation_with_its_source_and_local_defaults_marked() -> None:
    pathway = load_pathway(pathways_dir() / "mscc")
    text = pathway_doc.render(pathway)
    assert "version **1.0.0**" in text
    for rule in pathway.expectations:
        assert f"## {rule.id} {rule.name}" in text
        assert rule.source in text
    f3 = text.split("## F3 ")[1].split("\n## ")[0]
    assert "due within 24 h [P]" in f3
    assert "warn at 12 h notify mscc_coordinator **[G] local default**" in f3
    assert "R1 MSCC_SUSPECTED or R8 IMAGING_CORD_COMPRESSION" in f3
    a1 = text.split("## A1 ")[1]
    assert re.search(r"Timing for emergency: due within 15 min \*\*\[G\] local default\*\*", a1)


def test_writes_the_file_given(tmp_path: Path) -> None:
    out = tmp_path / "followup.md"
    assert pathway_doc.main(["--out", str(out)]) == 0
    assert out.read_text().startswith("# Follow-up expectations")


def test_an_invalid_pathway_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert pathway_doc.main(["--pathway", str(tmp_path)]) == 1
    assert "pathway.yaml" in capsys.readouterr().err
