"""Parked records: the raw input with the codes carepath did not know, bounded; metric labels that never
carry a value read from input; the report an operator reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from carepath import contracts, envelope, topics
from carepath.deadletter import MAX_CODES, dead_letter
from intake.dlq import parked_records, system_label
from intake.parked import REPLAYED, _replayed, report
from intake.publisher import Record

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 2, 8, 16, tzinfo=UTC)
RAW = b"MSH|^~\\&|EPR|NGH|CAREPATH|NGH|20250602091500||ORU^R01|C1|P|2.4\rOBX|1|CWE|PAINXYZ^Row^99NGH||Y"


def parked(codes: list[tuple[str, str]], channel: str = "mllp") -> bytes:
    [record] = parked_records(
        channel=channel, reason="OBX[1]-3 unknown", errors=[], raw=RAW, received_at=NOW, codes=codes
    )
    assert record.topic == topics.CLINICAL_EVENTS_PARKED
    return record.value


def test_a_parked_record_is_a_dead_letter_record_with_its_codes() -> None:
    record = json.loads(parked([("99NGH", "PAINXYZ")]))
    assert contracts.validate_dlq_record(record) == []
    assert record["codes"] == [{"system": "99NGH", "code": "PAINXYZ"}]
    assert record["raw"].encode() == RAW


def test_nothing_is_parked_without_a_code_and_the_codes_are_bounded() -> None:
    assert parked_records(channel="fhir", reason="x", errors=[], raw=RAW, received_at=NOW, codes=()) == []
    many = [("99NGH", f"ROW{i}") for i in range(80)] + [("99NGH", "ROW1")] + [("s" * 400, "c" * 400)]
    record = json.loads(
        dead_letter(channel="mllp", reason="x", errors=[], raw=RAW, received_at=NOW, codes=many)
    )
    assert len(record["codes"]) == MAX_CODES
    assert contracts.validate_dlq_record(record) == []


@pytest.mark.parametrize(
    ("system", "label"),
    [
        ("http://loinc.org", "LOINC"),
        ("LN", "LOINC"),
        ("SCT", "SNOMED CT"),
        ("urn:oid:2.16.840.1.113883.6.88", "RxNorm"),
        ("99NGH", "local"),
        ("https://fhir.northgate-hospital.example/CodeSystem/pain-flowsheet", "local"),
        ("", "local"),
        ("NHS 943 476 5919", "local"),
    ],
)
def test_the_metric_label_is_a_known_system_name_or_local(system: str, label: str) -> None:
    assert system_label(system) == label


def test_the_report_counts_each_code_once_per_input_most_frequent_first() -> None:
    values = [
        parked([("99NGH", "PAINXYZ"), ("99NGH", "PAINXYZ")]),
        parked([("99NGH", "PAINXYZ"), ("http://loinc.org", "99999-9")]),
        parked([("http://loinc.org", "99999-9"), ("99NGH", "PAINXYZ")], channel="fhir"),
    ]
    found = report(values)
    assert found["parked"] == 3 and found["by_channel"] == {"mllp": 2, "fhir": 1}
    assert found["codes"] == [
        {"system": "99NGH", "code": "PAINXYZ", "count": 3},
        {"system": "http://loinc.org", "code": "99999-9", "count": 2},
    ]
    assert found["not_shown"] == 0


def test_a_code_that_is_free_text_is_counted_never_printed() -> None:
    found = report([parked([("99NGH", "Mrs Jane Smith says legs numb"), ("99NGH", "PAINXYZ")])])
    assert found["codes"] == [{"system": "99NGH", "code": "PAINXYZ", "count": 1}]
    assert found["not_shown"] == 1


def test_an_event_read_again_has_an_id_of_its_own_once() -> None:
    event = {"id": "EPR-C1-0", "type": "carepath.pain.reported.v1", "data": {"nrs": 7}}
    record = Record(topics.CLINICAL_EVENTS, b"P1", envelope.encode(event))
    again = _replayed(record)
    assert envelope.decode(again.value)["id"] == "EPR-C1-0" + REPLAYED
    assert _replayed(again).value == again.value
    assert again.key == b"P1" and envelope.decode(again.value)["data"] == {"nrs": 7}
