"""The README's capacity table is what ``make capacity`` prints (tools/capacity.py): the measured corpus
figures and the arithmetic on them, never numbers typed by hand."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from carepath.resources import ROOT
from tools import capacity

pytestmark = pytest.mark.contract


def test_the_readme_capacity_table_is_the_models_output() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert capacity.main([]) == 0
    printed = out.getvalue().strip()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Capacity model") :]
    [table] = re.findall(r"```text\n(.*?)\n```", section[: section.index("\n## ")], re.S)
    assert table == printed
    assert "region: events per day" in printed and "measured: corpus replay" in printed


def test_the_model_follows_its_assumptions() -> None:
    """Twice the patients a day: twice the events and twice the state, the measured figures unchanged."""

    def run(*args: str) -> dict[str, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            capacity.main(list(args))
        return {line[:60].strip(): line[60:].split()[0] for line in out.getvalue().splitlines() if line}

    base, doubled = run(), run("--active-per-1000-beds", "500", "--new-per-1000-beds", "40")
    number = lambda text: float(text.replace(",", ""))  # noqa: E731
    assert number(doubled["region: events per day"]) == pytest.approx(
        2 * number(base["region: events per day"]), rel=1e-3
    )
    assert number(doubled["region: patients in state"]) == 2 * number(base["region: patients in state"])
    assert doubled["events per patient per active day"] == base["events per patient per active day"]
