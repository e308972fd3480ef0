"""Envelopes, dead letters, the topic catalogue and the readable rendering."""

from __future__ import annotations

import base64
import hashlib
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


@pytest.mark.parametrize(
    "raw",
    [
        b"x" * (5 * 1024 * 1024),  # a refused 5 MiB body
        b"\x01" * (1024 * 1024),  # control characters JSON writes six bytes each
        "é".encode() * (600 * 1024),  # multi-byte text cut mid-character
        bytes(range(256)) * 4096,  # binary: base64
    ],
    ids=["ascii", "control-characters", "multibyte", "binary"],
)
def test_a_dead_letter_of_any_size_fits_one_kafka_record(raw: bytes) -> None:
    encoded = dead_letter(
        channel="http", reason="too big\r\nsecond line", errors=[("", "x")], raw=raw, received_at=T
    )
    assert len(encoded) <= 512 * 1024  # well under the 1 MiB default request and message limits
    record = json.loads(encoded)
    assert validate_dlq_record(record) == []
    assert record["raw_truncated"] is True and record["raw_length"] == len(raw)
    assert record["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    kept = base64.b64decode(record["raw"]) if record.get("raw_encoding") else record["raw"].encode()
    assert kept and raw.startswith(kept)
    assert record["reason"] == "too big  second line"  # one line


def test_a_dead_letter_small_enough_is_kept_whole_and_unmarked() -> None:
    record = json.loads(dead_letter(channel="mllp", reason="r", errors=[], raw=b"MSH|^~\\&|", received_at=T))
    assert record["raw"] == "MSH|^~\\&|" and "raw_truncated" not in record and "raw_length" not in record
    assert record["errors"] == [{"field": "", "message": "refused"}]
    assert validate_dlq_record(record) == []


def test_dead_letter_errors_are_bounded_in_count_and_length() -> None:
    many = [(f"/data/x{i}", "m" * 5000) for i in range(500)]
    record = json.loads(dead_letter(channel="http", reason="r", errors=many, raw=b"{}", received_at=T))
    assert validate_dlq_record(record) == []
    assert len(record["errors"]) == 51 and record["errors"][-1]["message"] == "and 450 more problems"
    assert all(len(e["message"]) <= 2000 for e in record["errors"])


def test_the_contract_refuses_a_truncated_record_without_its_length_and_digest() -> None:
    record = json.loads(dead_letter(channel="http", reason="r", errors=[], raw=b"x" * 300_000, received_at=T))
    del record["raw_sha256"]
    assert validate_dlq_record(record) != []


def test_every_topic_shares_one_partition_count() -> None:
    names = {t.name for t in topics.catalogue()}
    assert {topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.REMINDERS, topics.ACKNOWLEDGEMENTS} <= names
    assert (
        topics.partitions() == topics.development_partitions() == 4
    )  # tests/conftest.py: a development stack
    assert {t.partitions for t in topics.declared()} == {24}  # the production default


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
