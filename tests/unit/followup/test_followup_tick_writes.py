"""What a timer pass writes back: only a state the table holds, and only when the tick changed it.

A worker whose due index names a patient its table cannot give a state for (the index and the table out
of step, as on a worker that is stopping) must not write that patient's empty state: the changelog would
then end with it, and the partition's next owner would read back a patient with no expectations and send
none of its reminders."""

from __future__ import annotations

import pytest

from followup.batch import run_tick
from tests.unit.followup.followup_timeline import PATHWAY, PATIENT, at, r1_patient, stored

pytestmark = pytest.mark.unit
KEY = PATIENT.encode()


def test_a_due_key_with_no_stored_state_is_left_alone_and_reported() -> None:
    result = run_tick([KEY], {}.get, at(hours=30), PATHWAY)
    assert result.missing == [KEY]
    assert result.states == {} and result.intents == {} and result.unchanged == {}
    assert result.outgoing == [] and result.audited == []


def test_a_patient_with_nothing_due_is_not_written_again_but_kept_for_its_next_deadline() -> None:
    p = r1_patient()
    table = {KEY: stored(p.exps)}
    result = run_tick([KEY], table.get, at(minutes=5), PATHWAY)  # the first deadline is an hour out
    assert result.states == {} and result.outgoing == [] and result.missing == []
    assert result.unchanged[KEY].to_dict() == p.exps.to_dict()
    assert result.unchanged[KEY].next_due() is not None


def test_a_patient_with_something_due_is_written_with_what_fired() -> None:
    p = r1_patient()
    table = {KEY: stored(p.exps)}
    result = run_tick([KEY], table.get, at(hours=1, minutes=1), PATHWAY)
    assert result.outgoing and KEY in result.states and KEY not in result.unchanged
    assert result.states[KEY].value != table[KEY]


def test_among_many_keys_only_the_missing_one_is_skipped() -> None:
    p = r1_patient()
    other = b"patient-not-here"
    table = {KEY: stored(p.exps)}
    result = run_tick([other, KEY], table.get, at(hours=1, minutes=1), PATHWAY)
    assert result.missing == [other]
    assert set(result.states) == {KEY}
    assert {o.key for o in result.outgoing} == {KEY}
