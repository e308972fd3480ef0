"""The parts of the dead-letter re-drive that need no broker: reading a record, selecting, and the HL7
message sent in original acknowledgement mode (the command itself: tests/integration/test_redrive.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from carepath.deadletter import dead_letter
from intake.redrive import Letter, Selection, main, original_mode, parse, select, sources
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def letter(
    channel: str, raw: bytes, reason: str = "/data/unit: 'mmol' is not a unit", at: datetime = AT
) -> bytes:
    field = reason.split(":")[0]
    return dead_letter(channel=channel, reason=reason, errors=[(field, "no")], raw=raw, received_at=at)


def test_a_record_is_read_with_its_raw_input_bytes_even_when_kept_as_base64() -> None:
    raw = b"MSH|^~\\&|LAB\xff|RLH"  # not UTF-8: kept as base64
    read = parse(letter("mllp", raw, "/MSH/3: not readable"))
    assert read.raw == raw and read.channel == "mllp" and read.received_at == AT
    assert read.first_field == "/MSH/3" and not read.truncated


def test_a_pointer_written_from_input_is_shown_only_when_it_looks_like_one() -> None:
    assert parse(letter("http", b"{}", "/data/x y<script>: bad")).first_field == "[invalid]"


def test_not_a_dead_letter_record_is_counted_apart() -> None:
    chosen, read, unreadable = select(
        [b"not json", orjson.dumps({"raw": 3}), letter("http", b"{}")], Selection()
    )
    assert (len(chosen), read, unreadable) == (1, 3, 2)


def test_selection_by_reason_time_channel_and_source() -> None:
    event = orjson.dumps({"source": "urn:epr", "type": "carepath.lab.resulted.v1"})
    resource = orjson.dumps({"resourceType": "Observation", "meta": {"source": "urn:lis"}})
    hl7 = samples.oru_pain("C1", "MRN1").replace("|EPR|", "|WINPATH|", 1).encode()
    records = [
        parse(letter("http", event)),
        parse(letter("fhir", resource, at=datetime(2026, 12, 3, tzinfo=UTC))),
        parse(letter("mllp", hl7, "/OBX[1]/3: unknown code")),
    ]
    assert [sources(r) for r in records] == [{"urn:epr"}, {"urn:lis"}, {"WINPATH"}]

    def chosen(selection: Selection) -> list[str]:
        return [r.channel for r in records if selection(r)]

    assert chosen(Selection(reason=re.compile("UNIT", re.IGNORECASE))) == ["http", "fhir"]
    assert chosen(Selection(start=datetime(2026, 12, 2, tzinfo=UTC))) == ["fhir"]
    assert chosen(Selection(end=datetime(2026, 12, 2, tzinfo=UTC))) == ["http", "mllp"]
    assert chosen(Selection(channels=frozenset({"mllp", "fhir"}))) == ["fhir", "mllp"]
    assert chosen(Selection(source="WINPATH")) == ["mllp"]
    assert chosen(Selection(source="urn:epr", channels=frozenset({"fhir"}))) == []


def test_an_hl7_message_is_sent_in_original_mode_and_otherwise_byte_for_byte() -> None:
    message = samples.oru_pain("C2", "MRN2").replace("|||||GBR|", "|||AL|NE|GBR|", 1).encode() + b"\r\xe9"
    sent = original_mode(message)
    assert sent == message.replace(b"|||AL|NE|GBR|", b"|||||GBR|", 1)
    assert original_mode(b"not hl7") == b"not hl7"


def test_the_same_input_is_one_digest_per_channel() -> None:
    one = Letter("http", "r", AT, b"{}", False, "")
    assert one.digest == Letter("http", "other reason", None, b"{}", False, "/x").digest
    assert one.digest != Letter("fhir", "r", AT, b"{}", False, "").digest


def test_the_mllp_tls_options_are_checked_before_anything_is_read(tmp_path: Path) -> None:
    assert main(["--mllp-cert", "c.pem", "--mllp-key", "k.pem"]) == 2  # no CA to check the listener with
    assert main(["--mllp-ca", str(tmp_path / "absent.pem")]) == 2
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    assert main(["--mllp-ca", str(not_pem), "--mllp-cert", "c.pem"]) == 2  # a certificate without its key
