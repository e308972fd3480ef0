"""A crash between the broker acknowledging reminders and their "fired" state being written: the tick
first stores them as ``sending``; a restart that finds them publishes the very same records again (same
id, same payload) and counts them, and never loses one."""

from __future__ import annotations

from datetime import datetime

import pytest

from carepath import envelope
from followup.batch import run_tick
from followup.core import PatientExpectations
from tests.unit.followup.followup_timeline import PATHWAY, PATIENT, at, r1_patient, stored

pytestmark = pytest.mark.unit
KEY = PATIENT.encode()


def test_a_tick_stores_what_it_is_about_to_send_before_the_fired_state() -> None:
    p = r1_patient()
    table = {KEY: stored(p.exps)}
    result = run_tick([KEY], table.get, at(hours=1, minutes=1), PATHWAY)

    ids = [o.reminder.cloudevent_id for o in result.outgoing]
    assert ids and all(".overdue." in i for i in ids)
    intent = result.intents[KEY].expectations
    assert set(intent.sending) == set(ids)
    assert intent.open == p.exps.open  # the steps are still pending in the intent
    assert result.states[KEY].expectations.sending == {}
    assert result.republished == 0


def test_after_a_crash_in_the_window_the_same_records_go_out_again_and_are_counted() -> None:
    p = r1_patient()
    fired_at = at(hours=1, minutes=1)
    first = run_tick([KEY], {KEY: stored(p.exps)}.get, fired_at, PATHWAY)
    # The broker acknowledged ``first.outgoing``; the process died before the fired state was written.
    # What the restarted worker recovers is the intent.
    recovered = {KEY: first.intents[KEY].value}
    again = run_tick([KEY], recovered.get, at(hours=1, minutes=40), PATHWAY)

    first_records = {o.reminder.cloudevent_id: o.value for o in first.outgoing}
    again_records = {o.reminder.cloudevent_id: o.value for o in again.outgoing}
    assert set(first_records) <= set(again_records)
    for rid, value in first_records.items():
        assert again_records[rid] == value, "a republished reminder must be the same record"
    assert again.republished == len(first_records)
    # what was not in flight (F1's second level, due at 1 h 30) fires at the restarted worker's time
    later = [o.reminder for o in again.outgoing if o.reminder.cloudevent_id not in first_records]
    assert later and all(r.at == at(hours=1, minutes=40) for r in later)
    assert again.states[KEY].expectations.sending == {}


def test_a_warning_in_flight_is_decided_as_when_it_fired() -> None:
    p = r1_patient()
    p.run_until(at(hours=11))  # everything before F3's warning has fired and been recorded
    warned_at = at(hours=12, minutes=5)  # F3's warning (12 h) is due; its deadline (24 h) is not
    first = run_tick([KEY], {KEY: stored(p.exps)}.get, warned_at, PATHWAY)
    warnings = [o for o in first.outgoing if o.reminder.kind == "warning"]
    assert warnings
    recovered = {KEY: first.intents[KEY].value}
    # the restart comes after F3's deadline: a fresh warning would be skipped, this one was already sent
    again = run_tick([KEY], recovered.get, at(hours=25), PATHWAY)
    again_records = {o.reminder.cloudevent_id: o.value for o in again.outgoing}
    for o in warnings:
        assert again_records[o.reminder.cloudevent_id] == o.value


def test_an_event_between_crash_and_tick_keeps_nothing_stale_in_sending() -> None:
    p = r1_patient()
    first = run_tick([KEY], {KEY: stored(p.exps)}.get, at(hours=1, minutes=1), PATHWAY)
    exps = first.intents[KEY].expectations
    assert exps.sending
    again = run_tick([KEY], {KEY: stored(exps)}.get, at(days=40), PATHWAY)
    assert again.states[KEY].expectations.sending == {}


def test_sending_survives_storage_and_is_absent_when_empty() -> None:
    p = r1_patient()
    assert "sending" not in p.exps.to_dict()
    moment = datetime.fromisoformat("2025-03-03T10:01:00.123456+00:00")
    exps = p.exps.copy()
    exps.sending = {"f1-x.overdue.1": moment}
    back = PatientExpectations.from_dict(envelope.decode(stored(exps)))
    assert back.sending == {"f1-x.overdue.1": moment}
    assert back.copy().sending == back.sending
