"""Delivery state per patient: a redelivered notification is not sent again, pending ones survive."""

from __future__ import annotations

import pytest

from notifier.state import DEAD, DELIVERED, PENDING, PatientDeliveries

pytestmark = pytest.mark.unit

EVENT = {"id": "esc-1.r1", "type": "carepath.escalation.raised.v1", "subject": "MRN-1", "data": {}}


def test_a_new_notification_is_pending_for_each_endpoint() -> None:
    state = PatientDeliveries()
    planned = state.plan(EVENT, ["pager", "fhir"], now=100.0)
    assert planned.send == ["pager", "fhir"] and planned.changed
    assert sorted(name for _, name, _, _ in state.pending()) == ["fhir", "pager"]


def test_after_delivery_a_redelivered_notification_is_not_sent_again() -> None:
    state = PatientDeliveries()
    state.plan(EVENT, ["pager"], now=100.0)
    state.record("esc-1.r1", "pager", attempts=3, status=DELIVERED, error="", now=101.0)
    restored = PatientDeliveries.from_bytes(state.to_bytes())  # as after a restart
    again = restored.plan(EVENT, ["pager"], now=200.0)
    assert again.send == [] and again.already_done == ["pager"] and not again.changed
    assert list(restored.pending()) == []
    assert restored.deliveries["esc-1.r1"].event is None  # nothing left to deliver: the payload is dropped


def test_pending_survives_a_restart_with_its_attempts() -> None:
    state = PatientDeliveries()
    state.plan(EVENT, ["pager", "fhir"], now=100.0)
    state.record("esc-1.r1", "pager", attempts=2, status=PENDING, error="HTTP 503", now=101.0)
    state.record("esc-1.r1", "fhir", attempts=1, status=DELIVERED, error="", now=101.0)
    restored = PatientDeliveries.from_bytes(state.to_bytes())
    [(event_id, name, delivery, target)] = list(restored.pending())
    assert (event_id, name, target.attempts, target.last_error) == ("esc-1.r1", "pager", 2, "HTTP 503")
    assert delivery.event == EVENT
    assert restored.plan(EVENT, ["pager", "fhir"], now=300.0).send == ["pager"]


def test_a_new_endpoint_for_a_known_notification_is_planned() -> None:
    state = PatientDeliveries()
    state.plan(EVENT, ["pager"], now=100.0)
    state.record("esc-1.r1", "pager", attempts=1, status=DEAD, error="HTTP 400", now=101.0)
    planned = state.plan(EVENT, ["pager", "messaging"], now=102.0)
    assert planned.send == ["messaging"] and planned.already_done == ["pager"]
    assert state.deliveries["esc-1.r1"].event == EVENT


def test_finished_notifications_are_forgotten_after_the_retention() -> None:
    state = PatientDeliveries()
    state.plan(EVENT, ["pager"], now=100.0)
    state.plan({**EVENT, "id": "esc-2.r1"}, ["pager"], now=100.0)
    state.record("esc-1.r1", "pager", attempts=1, status=DELIVERED, error="", now=101.0)
    assert not state.prune(now=150.0, retention_s=100.0)
    assert state.prune(now=1000.0, retention_s=100.0)
    assert list(state.deliveries) == ["esc-2.r1"]  # still pending: never forgotten


def test_an_attempt_in_flight_at_a_crash_is_pending_and_in_doubt_after_the_restart() -> None:
    state = PatientDeliveries()
    state.plan(EVENT, ["pager", "fhir"], now=100.0)
    state.record("esc-1.r1", "fhir", attempts=1, status=PENDING, error="HTTP 503", now=101.0)
    state.attempting("esc-1.r1", "pager", attempt=1, now=102.0)  # sent; the worker dies before the answer
    restored = PatientDeliveries.from_bytes(state.to_bytes())
    pending = {name: target for _, name, _, target in restored.pending()}
    assert pending["pager"].in_flight and pending["pager"].attempts == 1
    assert not pending["fhir"].in_flight  # its attempt's outcome was recorded: certainly not taken
    assert restored.plan(EVENT, ["pager", "fhir"], now=103.0).send == ["pager", "fhir"]
    restored.record("esc-1.r1", "pager", attempts=2, status=DELIVERED, error="", now=104.0)
    assert "in_flight" not in restored.to_bytes().decode()  # the outcome is known again


def test_a_finished_target_is_not_put_back_in_flight() -> None:
    state = PatientDeliveries()
    state.plan(EVENT, ["pager"], now=100.0)
    state.record("esc-1.r1", "pager", attempts=1, status=DELIVERED, error="", now=101.0)
    state.attempting("esc-1.r1", "pager", attempt=2, now=102.0)
    assert list(state.pending()) == []
