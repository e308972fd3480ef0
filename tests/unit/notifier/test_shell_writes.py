"""What a courier writes back through the worker's table: only the deliveries the table holds.

A stopping worker lets go of its tables while its couriers are still finishing requests. A courier that
then recorded its outcome into an empty state would write that empty state back, and the patient's other
deliveries still pending would vanish from the changelog the partition's next owner resumes from."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from notifier.agents import NotifierShell
from notifier.courier import Job
from notifier.payloads import payload
from notifier.state import DELIVERED, PENDING, PatientDeliveries

pytestmark = pytest.mark.unit

KEY = b"MRN-1"
EVENTS: list[dict[str, Any]] = [
    {"id": f"esc-1.r{n}", "type": "carepath.escalation.raised.v1", "subject": "MRN-1", "data": {}}
    for n in (1, 2)
]


def shell(table: dict[bytes, bytes]) -> NotifierShell:
    ns = object.__new__(NotifierShell)  # the table and settings only: no Faust app
    ns.table = table  # type: ignore[assignment]
    ns.settings = SimpleNamespace(retention_s=86_400.0)  # type: ignore[assignment]
    return ns


def job(event: Mapping[str, Any]) -> Job:
    return Job(KEY, str(event["id"]), str(event["type"]), payload("carepath", event), time.time(), 1)


def two_pending() -> bytes:
    state = PatientDeliveries()
    for event in EVENTS:
        state.plan(event, ["pager"], now=time.time())
    return state.to_bytes()


def test_an_outcome_is_recorded_into_the_state_the_table_holds() -> None:
    table = {KEY: two_pending()}
    shell(table).record(job(EVENTS[0]), "pager", DELIVERED)
    state = PatientDeliveries.from_bytes(table[KEY])
    assert [event_id for event_id, _, _, _ in state.pending()] == ["esc-1.r2"]
    assert state.deliveries["esc-1.r1"].targets["pager"].status == DELIVERED


def test_with_no_state_in_the_table_nothing_is_written() -> None:
    table: dict[bytes, bytes] = {}
    ns = shell(table)
    ns.record(job(EVENTS[0]), "pager", PENDING)
    assert table == {}  # not an empty state that would replace the changelog's pending deliveries
