"""One message in, one ACK out, over intake's in-memory publisher (the I/O seam): what the sender is told
matches what is stored. The same paths over a real MLLP connection and a real broker are in
tests/integration/test_mllp.py."""

from __future__ import annotations

import asyncio
from typing import Any

import hl7
import orjson
import pytest
from fastapi.testclient import TestClient

from carepath import contracts, topics
from intake.app import create_app
from intake.hl7.framing import Oversize
from intake.hl7.handler import Hl7Intake, Reply
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.unit.hl7 import samples
from tests.unit.hl7.samples import FixedClock

pytestmark = pytest.mark.unit


def send(handler: Hl7Intake, text: str | bytes) -> tuple[Reply, Any]:
    reply = asyncio.run(handler.handle(text.encode() if isinstance(text, str) else text))
    return reply, hl7.parse(reply.text)


def stored(publisher: MemoryPublisher, topic: str = topics.CLINICAL_EVENTS) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topic]


def test_good_message_is_stored_then_acked_aa(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    reply, ack = send(handler, samples.oru_radiology("RIS-1", "MRN1"))
    assert reply.ack == "AA" and str(ack.segment("MSA")(2)) == "RIS-1"
    [event] = stored(publisher)
    assert event["id"] == "hl7v2:RLH:RIS-1:0" and event["subject"] == "MRN1"
    assert [r.key for r in publisher.records] == [b"MRN1"]  # keyed by patient


def test_resent_message_is_acked_aa_and_not_stored_again(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    message = samples.oru_labs("LAB-1", "MRN1")
    first, _ = send(handler, message)
    again, _ = send(handler, message)
    assert (first.ack, again.ack) == ("AA", "AA")
    assert len(stored(publisher)) == 5  # five results, published once


def test_content_error_is_ae_with_err_and_dead_lettered(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    reply, ack = send(handler, samples.oru_pain("EPR-1", "MRN1", nrs="14"))
    assert reply.ack == "AE"
    err = ack.segment("ERR")
    assert str(err(2)) == "OBX^1^5"
    assert "/data/nrs: 14 is greater than the maximum of 10" in str(err(8))
    assert stored(publisher) == []
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert contracts.validate_dlq_record(letter) == []
    assert letter["channel"] == "mllp" and letter["event_id"] == "hl7v2:RLH:EPR-1:0"
    assert letter["raw"] == samples.oru_pain("EPR-1", "MRN1", nrs="14")  # the HL7 message as received


def test_a_segment_that_cannot_be_mapped_is_dead_lettered_and_the_rest_stored(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    text = samples.oru_labs("LAB-2", "MRN1").replace("|31|g/L^^UCUM|", "|thirty-one|g/L^^UCUM|")
    reply, ack = send(handler, text)
    assert reply.ack == "AE"
    assert str(ack.segment("ERR")(2)) == "OBX^2^5"
    assert len(stored(publisher)) == 4
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert letter["errors"] == [
        {"field": "/OBX[2]/5", "message": "albumin result 'thirty-one' is not a number"}
    ]
    assert contracts.validate_dlq_record(letter) == []


def test_unreadable_input_is_ae_and_kept(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    reply, ack = send(handler, b"\xff\xfenot hl7 at all")
    assert reply.ack == "AE" and str(ack.segment("MSA")(1)) == "AE"
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert letter["raw_encoding"] == "base64"  # not UTF-8: kept byte for byte
    assert contracts.validate_dlq_record(letter) == []


def test_unsupported_message_type_is_ae_naming_msh9(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    reply, ack = send(
        handler, samples.oru_pain("EPR-2", "MRN1").replace("ORU^R01^ORU_R01", "SIU^S12^SIU_S12")
    )
    assert reply.ack == "AE"
    assert str(ack.segment("ERR")(3)) == "200^Unsupported message type^HL70357"
    assert len(stored(publisher, topics.CLINICAL_EVENTS_DLQ)) == 1


def test_broker_down_is_ar_and_nothing_is_stored(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    publisher.fail = True
    reply, ack = send(handler, samples.oru_radiology("RIS-2", "MRN1"))
    assert reply.ack == "AR"
    assert str(ack.segment("ERR")(3)) == "207^Application internal error^HL70357"
    assert publisher.records == []
    bad, _ = send(handler, b"not hl7")  # even a refusal is not answered AE unless it was dead-lettered
    assert bad.ack == "AR"
    publisher.fail = False
    retried, _ = send(handler, samples.oru_radiology("RIS-2", "MRN1"))
    assert retried.ack == "AA" and len(stored(publisher)) == 1


def test_a_message_whose_codes_the_site_ignores_is_aa_and_publishes_nothing(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    """Haemoglobin is listed under ignore.observations in the site's file: read, and deliberately not used."""
    text = "\r".join(
        [
            samples.msh("LAB-3", "ORU^R01^ORU_R01"),
            samples.pid("MRN1"),
            "OBR|1|L1||FBC^Full blood count^L|||20240501071500+0100",
            "OBX|1|NM|718-7^Haemoglobin^LN||121|g/L|115-165|N|||F",
        ]
    )
    reply, _ = send(handler, text)
    assert reply.ack == "AA" and publisher.records == []


def test_a_message_over_the_size_limit_is_ae_naming_the_limit(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    head = samples.oru_radiology("BIG-1", "MRN1").encode()[:1024]
    reply = asyncio.run(handler.oversize(Oversize(head, 5_000_000), 1024 * 1024))
    ack = hl7.parse(reply.text)
    assert reply.ack == "AE" and str(ack.segment("MSA")(2)) == "BIG-1"
    assert "over the limit of 1048576 bytes" in str(ack.segment("MSA")(3))
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert letter["raw"] == head.decode()


def test_the_ack_is_encoded_as_the_message_was(handler: Hl7Intake) -> None:
    text = samples.oru_pain("EPR-3", "MRN1", nrs="quatorze").replace("UNICODE UTF-8", "8859/1")
    reply, _ = send(handler, text.replace("SMITH", "M\u00dcLLER").encode("latin-1"))
    assert reply.encoding == "latin-1" and reply.encoded().decode("latin-1") == reply.text


def test_http_tests_bring_their_own_publisher_and_bind_no_mllp_port() -> None:
    settings = IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_PORT=2575)
    with TestClient(create_app(settings, MemoryPublisher(), FixedClock())) as client:
        assert client.app.state.mllp is None
    disabled = IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_PORT=0)
    with TestClient(create_app(disabled, MemoryPublisher(), FixedClock(), listen_mllp=True)) as client:
        assert client.app.state.mllp is None


def test_mllp_counters_start_at_zero() -> None:
    from prometheus_client import generate_latest

    text = generate_latest().decode()
    for line in (
        'carepath_intake_dlq_records_total{channel="mllp"}',
        'carepath_intake_duplicates_total{channel="mllp"}',
        'carepath_intake_mllp_messages_total{ack="AR"}',
    ):
        assert line in text
