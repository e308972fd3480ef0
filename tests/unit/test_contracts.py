"""What a sender is told when an event breaks the contract: the field, in JSON pointer form, and why."""

from __future__ import annotations

from typing import Any

import pytest

from carepath.contracts import (
    INPUT_TYPES,
    OUTPUT_TYPES,
    ContractError,
    schema_enum,
    topic_for,
    validate_dlq_record,
    validate_event,
    validate_output,
)

pytestmark = pytest.mark.unit

PAIN = "carepath.pain.reported.v1"
LAB = "carepath.lab.resulted.v1"


def event(type_name: str = PAIN, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "ward7-000183",
        "source": "urn:hospital:mirth:oncology-ward",
        "type": type_name,
        "subject": "MRN-204731",
        "time": "2024-05-01T09:30:00+01:00",
        "data": data or {"nrs": 6, "site": ["lumbar"]},
    }


def calcium(value: float, unit: str) -> dict[str, Any]:
    return event(LAB, test="calcium", value=value, unit=unit)


def first(errors: list[ContractError]) -> ContractError:
    assert errors, "expected the event to be rejected"
    return errors[0]


def test_a_valid_pain_report_has_no_errors() -> None:
    assert validate_event(event()) == []


def test_nrs_14_is_named_with_the_limit() -> None:
    error = first(validate_event(event(nrs=14, site=["thoracic"])))
    assert error == ContractError("/data/nrs", "14 is greater than the maximum of 10")
    assert error.describe() == "/data/nrs: 14 is greater than the maximum of 10"


def test_nrs_must_be_a_whole_number_not_text_or_a_boolean() -> None:
    assert first(validate_event(event(nrs="7", site=["lumbar"]))).field == "/data/nrs"
    assert first(validate_event(event(nrs=6.5, site=["lumbar"]))).field == "/data/nrs"
    assert first(validate_event(event(nrs=True, site=["lumbar"]))).field == "/data/nrs"
    assert validate_event(event(nrs=7.0, site=["lumbar"])) == []  # JSON Schema counts 7.0 as an integer


def test_unknown_type_gives_one_error_on_type_listing_the_accepted_types() -> None:
    errors = validate_event(event("carepath.pain.reportd.v1"))
    assert [e.field for e in errors] == ["/type"]
    assert "unknown event type 'carepath.pain.reportd.v1'" in errors[0].message
    for name in INPUT_TYPES:
        assert name in errors[0].message
    for name in OUTPUT_TYPES:
        assert name not in errors[0].message


def test_missing_type_is_named_and_the_envelope_is_still_checked() -> None:
    broken = event()
    del broken["type"]
    del broken["subject"]
    errors = validate_event(broken)
    assert errors[0].field == "/type"
    assert errors[0].message.startswith("required field 'type' is missing; accepted types: ")
    assert [e.field for e in errors[1:]] == ["/subject"]


def test_an_output_type_is_not_accepted_as_input_but_is_as_output() -> None:
    raised = event("carepath.escalation.raised.v1")
    error = first(validate_event(raised))
    assert error.field == "/type"
    assert "is not accepted here" in error.message
    output_fields = [e.field for e in validate_output(raised)]
    assert output_fields and "/type" not in output_fields  # known there, so its data is checked
    assert first(validate_output(event())).field == "/type"


def test_allowed_narrows_the_accepted_types() -> None:
    only_labs = frozenset({LAB})
    assert first(validate_event(event(), allowed=only_labs)).message.endswith(f"accepted types: {LAB}")
    assert validate_event(calcium(2.4, "mmol/L"), allowed=only_labs) == []


def test_missing_field_is_named_where_it_should_be() -> None:
    errors = validate_event(event(site=["lumbar"]))
    assert errors == [ContractError("/data/nrs", "required field 'nrs' is missing")]


def test_unexpected_field_is_named_by_its_own_pointer_and_reported_first() -> None:
    errors = validate_event(event(nrss=6, site=["lumbar"]))
    assert errors[0] == ContractError("/data/nrss", "unexpected field 'nrss'")
    assert ContractError("/data/nrs", "required field 'nrs' is missing") in errors


def test_unexpected_envelope_attribute_is_named() -> None:
    misspelt = {**event(), "subjet": "MRN-204731"}
    assert first(validate_event(misspelt)) == ContractError("/subjet", "unexpected field 'subjet'")


def test_a_unit_not_allowed_for_the_test_is_rejected_naming_the_units_that_are() -> None:
    error = first(validate_event(calcium(2.4, "U/L")))
    assert error.field == "/data/unit"
    assert "'U/L' is not a unit for calcium" in error.message
    assert "mmol/L" in error.message and "mg/dL" in error.message


def test_calcium_is_accepted_in_either_unit_but_never_impossible() -> None:
    assert validate_event(calcium(2.4, "mmol/L")) == []
    assert validate_event(calcium(13.2, "mg/dL")) == []
    high = first(validate_event(calcium(50, "mmol/L")))
    assert high.field == "/data/value"
    assert "10 mmol/L" in high.message
    assert validate_event(calcium(12, "mg/dL")) == []  # 12 mmol/L would be impossible, 12 mg/dL is not
    assert first(validate_event(calcium(12, "mmol/L"))).field == "/data/value"


def test_a_lab_value_without_a_unit_is_rejected() -> None:
    bare = event(LAB, test="calcium", value=2.4)
    assert first(validate_event(bare)) == ContractError("/data/unit", "required field 'unit' is missing")


def test_negative_duration_is_rejected() -> None:
    assert (
        first(validate_event(event(nrs=3, site=["lumbar"], duration_days=-1))).field == "/data/duration_days"
    )


def test_a_birth_date_after_the_event_is_rejected() -> None:
    future = event("carepath.diagnosis.recorded.v1", birth_date="2090-01-01")
    assert first(validate_event(future)) == ContractError(
        "/data/birth_date", "date of birth 2090-01-01 is after the event time"
    )
    assert validate_event(event("carepath.diagnosis.recorded.v1", birth_date="1961-03-14")) == []


def test_a_time_without_offset_gives_one_error_explaining_the_form() -> None:
    local = {**event(), "time": "2024-05-01T09:30:00"}
    errors = validate_event(local)
    assert [e.field for e in errors] == ["/time"]
    assert "UTC offset" in errors[0].message


def test_an_event_that_is_not_an_object_is_rejected_as_a_whole() -> None:
    error = first(validate_event(["not", "an", "event"]))
    assert error == ContractError("", "an event must be a JSON object, not an array")
    assert error.describe() == "(root): an event must be a JSON object, not an array"


def test_long_values_are_shortened_in_messages() -> None:
    report = event(
        "carepath.imaging.resulted.v1",
        modality="mri",
        region="whole_spine",
        report_status="final",
        impression="x" * 20001,
    )
    error = first(validate_event(report))
    assert error.field == "/data/impression"
    assert "(20001 characters)" in error.message
    assert len(error.message) < 120


def test_an_override_without_a_reason_says_why_the_reason_is_needed() -> None:
    ack = event("carepath.escalation.acknowledged.v1", target_id="esc-1", role="consultant", override=True)
    assert first(validate_event(ack)) == ContractError(
        "/data/reason", "required field 'reason' is missing: an override needs a reason"
    )


def test_a_diagnosis_needs_at_least_one_fact() -> None:
    empty = event("carepath.diagnosis.recorded.v1", verification="confirmed")
    error = first(validate_event(empty))
    assert error.field == "/data"
    assert error.message == "needs at least one of 'cancer', 'risk_factors', 'birth_date', 'age_years'"


def test_errors_come_one_per_field() -> None:
    bad = event(nrs=14, site=["lumbar", "lumbar"], nrss=1)
    fields = [e.field for e in validate_event(bad)]
    assert sorted(fields) == ["/data/nrs", "/data/nrss", "/data/site"]


def dlq_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "reason": "/data/nrs: 14 is greater than the maximum of 10",
        "errors": [{"field": "/data/nrs", "message": "14 is greater than the maximum of 10"}],
        "channel": "http",
        "received_at": "2024-05-01T08:30:01Z",
        "raw": '{"nrs": 14}',
    }
    record.update(changes)
    return record


def test_dlq_records_are_checked() -> None:
    assert validate_dlq_record(dlq_record()) == []
    assert first(validate_dlq_record(dlq_record(channel="kafka"))).field == "/channel"
    assert first(validate_dlq_record(dlq_record(raw_encoding="base64"))).field == "/raw"
    assert validate_dlq_record(dlq_record(raw="/3sK", raw_encoding="base64")) == []
    assert first(validate_dlq_record("text")).field == ""


def test_schema_enum_reads_code_lists_from_the_schemas() -> None:
    assert schema_enum(PAIN, "/neurological") == {
        "limb_weakness",
        "walking_difficulty",
        "sensory_loss",
        "bladder_dysfunction",
        "bowel_dysfunction",
        "saddle_anaesthesia",
    }
    assert schema_enum(PAIN, "/site") == {"cervical", "thoracic", "lumbar", "sacral"}
    assert "cord_compression" in schema_enum("carepath.imaging.resulted.v1", "/findings/code")
    assert "cord_compression" in schema_enum("carepath.imaging.resulted.v1", "/findings/0/code")
    assert schema_enum(LAB, "/unit") == {"mmol/L", "mg/dL", "g/L", "g/dL", "U/L", "mm/h", "mg/L", "umol/L"}
    assert schema_enum("carepath.escalation.raised.v1", "/severity") == {"emergency", "urgent", "routine"}
    assert schema_enum("carepath.diagnosis.recorded.v1", "/cancer/status") == {
        "active",
        "remission",
        "history",
    }


def test_schema_enum_refuses_what_is_not_a_code_list() -> None:
    with pytest.raises(KeyError):
        schema_enum(PAIN, "/nrs")
    with pytest.raises(KeyError):
        schema_enum(PAIN, "/no_such_field")
    with pytest.raises(KeyError):
        schema_enum("carepath.no.such.v1", "/site")


def test_each_type_names_its_topic() -> None:
    assert topic_for(PAIN) == "clinical.events"
    assert topic_for("carepath.escalation.acknowledged.v1") == "care.acknowledgements"
    assert topic_for("carepath.reminder.due.v1") == "care.reminders"


def test_patterns_are_read_as_ecma_262_so_a_final_line_break_is_not_ignored() -> None:
    """Python's ``re`` would let ``$`` match before a final line break and count U+FEFF as no space."""
    patient = event()
    patient["subject"] = "MRN-204731\n"
    assert first(validate_event(patient)) == ContractError(
        "/subject", "'MRN-204731\\n' is not a patient id: 1-64 characters from letters, digits and . _ : -"
    )
    sender = event()
    sender["source"] = "urn:hospital:mirth:oncology-ward\ufeff"
    assert first(validate_event(sender)).field == "/source"
