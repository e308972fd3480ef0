"""Envelopes, dead letters, the topic catalogue and the readable rendering."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from carepath import envelope, topics
from carepath.contracts import validate_dlq_record
from carepath.deadletter import dead_letter
from carepath.render import render

pytestmark = pytest.mark.unit
T = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_times_are_written_in_one_format_and_read_back() -> None:
    assert envelope.iso(T) == "2026-11-21T09:30:00.000Z"
    assert envelope.parse_time("2026-11-21T10:30:00+01:00") == T
    with pytest.raises(ValueError, match="timezone"):
        envelope.parse_time("2026-11-21T09:30:00")


def test_dead_letter_keeps_the_raw_input_and_the_reason_in_contract_form() -> None:
    text = json.loads(
        dead_letter(
            channel="http",
            reason="bad",
            errors=[("/data/nrs", "too big")],
            raw=b'{"x":1}',
            received_at=T,
            event_id="e-1",
        )
    )
    assert validate_dlq_record(text) == []
    assert text["raw"] == '{"x":1}' and text["errors"] == [{"field": "/data/nrs", "message": "too big"}]
    binary = json.loads(
        dead_letter(
            channel="stream", reason="bad", errors=[("", "not UTF-8")], raw=b"\xff\xfe", received_at=T
        )
    )
    assert validate_dlq_record(binary) == []
    assert base64.b64decode(binary["raw"]) == b"\xff\xfe" and binary["raw_encoding"] == "base64"


def test_every_topic_shares_one_partition_count() -> None:
    names = {t.name for t in topics.catalogue()}
    assert {topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.REMINDERS, topics.ACKNOWLEDGEMENTS} <= names
    assert topics.partitions() == 4


def test_rendering_says_why() -> None:
    esc = {
        "type": "carepath.escalation.raised.v1",
        "subject": "p-1",
        "data": {
            "severity": "emergency",
            "rule": {"id": "R1", "name": "MSCC_SUSPECTED"},
            "reason": "Known cancer with new leg weakness.",
            "actions": [{"action": "Contact the MSCC coordinator", "deadline": "2026-11-21T10:30:00Z"}],
            "evidence": [{"fact": "neurological", "value": ["limb_weakness"]}],
            "source": "NICE CG75",
            "pathway": {"version": "1.0.0"},
        },
    }
    text = render(topics.ESCALATIONS, envelope.encode(esc))
    assert "RAISED" in text and "EMERGENCY" in text and "R1" in text
    assert "Known cancer with new leg weakness." in text and "NICE CG75" in text
    assert render(topics.ESCALATIONS, b"\x00not json").startswith("[care.escalations]")
