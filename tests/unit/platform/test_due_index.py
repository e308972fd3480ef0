"""The followup timer's index: each due patient is handed out once, superseded deadlines never fire."""

from __future__ import annotations

import pytest

from followup.due import DueIndex

pytestmark = pytest.mark.unit


def test_due_keys_come_out_once_in_time_order() -> None:
    idx = DueIndex()
    idx.set(b"a", 30.0)
    idx.set(b"b", 10.0)
    idx.set(b"c", 20.0)
    assert idx.pop_due(5.0) == []
    assert idx.pop_due(20.0) == [b"b", b"c"]
    assert idx.pop_due(20.0) == []
    assert len(idx) == 1 and idx.backlog(100.0) == 1


def test_a_moved_deadline_fires_only_at_its_new_time() -> None:
    idx = DueIndex()
    idx.set(b"a", 10.0)
    idx.set(b"a", 50.0)  # the step was met or re-planned
    assert idx.pop_due(20.0) == []
    assert idx.pop_due(50.0) == [b"a"]


def test_cleared_deadline_never_fires() -> None:
    idx = DueIndex()
    idx.set(b"a", 10.0)
    idx.set(b"a", None)
    assert idx.pop_due(100.0) == [] and len(idx) == 0


def test_heap_is_compacted_under_churn() -> None:
    idx = DueIndex()
    for i in range(10_000):
        idx.set(b"k", float(i))
    assert len(idx._heap) < 5_000
    assert idx.pop_due(1e9) == [b"k"]


def test_retain_forgets_revoked_keys_and_keeps_the_rest_in_order() -> None:
    idx = DueIndex()
    for key, due in ((b"a", 10.0), (b"b", 20.0), (b"c", 30.0)):
        idx.set(key, due)
    idx.retain(lambda k: k != b"b")  # b's partition was revoked
    assert len(idx) == 2
    assert idx.pop_due(100.0) == [b"a", b"c"]


def test_next_due_is_the_earliest_live_deadline_never_a_superseded_one() -> None:
    idx = DueIndex()
    assert idx.next_due() is None
    idx.set(b"a", 30.0)
    idx.set(b"b", 20.0)
    idx.set(b"b", 40.0)  # b moved later: its 20.0 heap entry is stale
    assert idx.next_due() == 30.0
    idx.set(b"a", None)
    assert idx.next_due() == 40.0
    assert idx.pop_due(40.0) == [b"b"] and idx.next_due() is None
