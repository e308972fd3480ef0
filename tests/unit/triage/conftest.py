"""Every triage unit test also checks that no rule changed the empty answers the core shares (the
answers for a part a state does not hold are one object each, never copied: a rule that changed one would
change every later patient's facts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from triage.core import engine, facts


@pytest.fixture(autouse=True)
def _shared_empty_answers_stay_empty() -> Iterator[None]:
    yield
    shared = {
        "facts._NO_CANCERS": facts._NO_CANCERS,
        "facts._NO_ENTRIES": facts._NO_ENTRIES,
        "facts._NOTHING_RECORDED": facts._NOTHING_RECORDED,
        "engine._NONE_KEPT": engine._NONE_KEPT,
    }
    changed = {name: value for name, value in shared.items() if value}
    assert not changed, f"a shared empty answer was changed: {changed}"
