"""The pathway as a clinical safety officer reads it: the rendered documents in docs/pathway/ are the ones
the running services load (regenerate with `make pathway-doc`), and the demo feed backtests cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from carepath.resources import ROOT

pytestmark = pytest.mark.contract
DOCS = ROOT / "docs" / "pathway"


def render(module: str, out: Path) -> str:
    subprocess.run([sys.executable, "-m", module, "--out", str(out)], check=True, timeout=60, cwd=ROOT)
    return out.read_text()


@pytest.mark.parametrize(
    ("module", "document"), [("triage.pathway_doc", "red-flags.md"), ("followup.pathway_doc", "follow-up.md")]
)
def test_rendered_pathway_documents_are_current(module: str, document: str, tmp_path: Path) -> None:
    fresh = render(module, tmp_path / document)
    assert (DOCS / document).read_text() == fresh, f"docs/pathway/{document} is stale: run `make pathway-doc`"


def test_every_rule_and_expectation_is_in_the_sign_off_documents() -> None:
    red_flags = (DOCS / "red-flags.md").read_text()
    follow_up = (DOCS / "follow-up.md").read_text()
    for rule in (
        "R1",
        "R2",
        "R3",
        "R4",
        "R5",
        "R6a",
        "R6b",
        "R6c",
        "R7",
        "R8",
        "R9",
        "R10",
        "R11",
        "R12",
        "R13",
    ):
        assert f"| {rule} |" in red_flags, rule
    for exp in ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F9", "F10", "F11", "F12", "F13", "F14", "A1"):
        assert exp in follow_up, exp
    assert "version **1.0.0**" in red_flags
    assert "[G] local default" in red_flags


def test_backtest_runs_on_the_demo_feed(tmp_path: Path) -> None:
    feed = tmp_path / "demo.jsonl"
    subprocess.run(
        [sys.executable, "-m", "carepath_tools.demo", "--export", str(feed)], check=True, timeout=60, cwd=ROOT
    )
    out = subprocess.run(
        [sys.executable, "-m", "triage.backtest", str(feed)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "R1    MSCC_SUSPECTED" in text and "2/0/0" in text
    assert "alert burden" in text
    assert ":6: /data/unit" in text  # the demo's deliberately bad lab is named, not guessed
