"""HL7 messages mapped by code to carepath input events, which must pass the published contract."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from carepath import contracts
from intake.hl7.codes import CodeMap
from intake.hl7.mapping import MappingOptions, MappingResult, map_message
from intake.hl7.message import parse_message
from intake.hl7.problems import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_VERSION,
    Location,
)
from intake.hl7.radiology import RadiologyRules
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit


@pytest.fixture
def mapper(site_codes: CodeMap, rules: RadiologyRules, options: MappingOptions) -> Any:
    """Maps with the shipped mapping and a site's file (which lists the potassium the lab sends as ignored)."""

    def run(text: str, check: bool = True, **option: Any) -> MappingResult:
        result = map_message(parse_message(text.encode()), site_codes, rules, replace(options, **option))
        for mapped in result.events if check else ():
            assert contracts.validate_event(mapped.event, allowed=contracts.INPUT_TYPES) == [], mapped.event
        return result

    return run


def datas(result: MappingResult) -> list[dict[str, Any]]:
    return [m.event["data"] for m in result.events]


def test_mri_report_becomes_an_imaging_event_with_findings_and_evidence(mapper: Any) -> None:
    result = mapper(samples.oru_radiology("RIS000123", "MRN204731"))
    assert result.problems == [] and result.refused is None
    [mapped] = result.events
    event = mapped.event
    assert event["type"] == "carepath.imaging.resulted.v1"
    assert (event["id"], event["source"], event["subject"]) == (
        "hl7v2:RLH:RIS000123:0",
        "urn:hl7v2:RLH",
        "MRN204731",
    )
    assert event["time"] == "2024-05-01T08:28:00.000Z"  # OBR-22, the report time, +01:00 in the message
    data = event["data"]
    assert (data["modality"], data["region"], data["report_status"], data["sins_score"]) == (
        "mri",
        "whole_spine",
        "final",
        11,
    )
    assert {f["code"]: f["certainty"] for f in data["findings"]} == {
        "cord_compression": "confirmed",
        "cauda_equina_compression": "excluded",
        "new_vertebral_metastasis": "confirmed",
        "pathological_fracture": "confirmed",
        "vertebral_collapse": "confirmed",
        "epidural_disease": "confirmed",
    }
    cord = next(f for f in data["findings"] if f["code"] == "cord_compression")
    assert cord["evidence"] == "Epidural tumour at T10 compresses the cord."
    assert "?MSCC" in data["impression"]  # the whole report is kept for the clinician
    assert mapped.location_of("/data/findings/0/code") == Location("OBX", 1, 5)


def test_report_status_and_region_follow_the_message(mapper: Any) -> None:
    preliminary = mapper(
        samples.oru_radiology("R2", "MRN1", status="P", procedure="MRLSP^MRI lumbar spine^L")
    )
    data = datas(preliminary)[0]
    assert (data["modality"], data["region"], data["report_status"]) == ("mri", "lumbar", "preliminary")
    cancelled = mapper(samples.oru_radiology("R3", "MRN1", status="X", lines=[]))
    assert datas(cancelled)[0]["report_status"] == "cancelled"


def test_a_final_report_without_text_is_refused_rather_than_read_as_normal(mapper: Any) -> None:
    result = mapper(samples.oru_radiology("R4", "MRN1", lines=[]))
    assert result.events == []
    [problem] = result.problems
    assert problem.code == REQUIRED_FIELD_MISSING and "no report text" in problem.message


def test_pain_assessment_becomes_a_pain_report(mapper: Any) -> None:
    result = mapper(samples.oru_pain("EPR-1", "MRN1"))
    [mapped] = result.events
    assert mapped.event["type"] == "carepath.pain.reported.v1"
    assert mapped.event["time"] == "2024-05-01T07:55:00.000Z"  # OBX-14
    assert mapped.event["data"] == {
        "nrs": 8,
        "site": ["thoracic"],
        "neurological": ["limb_weakness", "walking_difficulty"],
        "neurological_status": "worsening",
    }  # night pain was answered N: not listed


def test_pain_site_may_come_from_its_own_observation(mapper: Any) -> None:
    extra = ["OBX|6|CWE|pain_site^Pain site^99CP||Lumbar spine||||||F"]
    result = mapper(samples.oru_pain("EPR-2", "MRN1", site="", extra=extra))
    assert datas(result)[0]["site"] == ["lumbar"]


@pytest.mark.parametrize(
    ("nrs", "site", "code", "where"),
    [
        ("8", "", REQUIRED_FIELD_MISSING, Location("OBX", 1, 20)),
        ("severe", "122495006^Thoracic^SCT", DATA_TYPE_ERROR, Location("OBX", 1, 5)),
        ("7.5", "122495006^Thoracic^SCT", DATA_TYPE_ERROR, Location("OBX", 1, 5)),
    ],
)
def test_a_pain_score_that_cannot_be_read_is_a_named_problem(
    mapper: Any, nrs: str, site: str, code: int, where: Location
) -> None:
    result = mapper(samples.oru_pain("EPR-3", "MRN1", nrs=nrs, site=site))
    assert result.events == []
    [problem] = result.problems
    assert (problem.code, problem.location) == (code, where)


def test_laboratory_results_with_units_ranges_and_flags(mapper: Any) -> None:
    result = mapper(samples.oru_labs("LAB-1", "MRN1"))
    by_test = {d["test"]: d for d in datas(result)}
    assert by_test["calcium"] == {
        "test": "calcium",
        "value": 3.12,
        "unit": "mmol/L",
        "reference_range": {"low": 2.2, "high": 2.6},
        "abnormal_flag": "H",
    }
    assert by_test["alkaline_phosphatase"]["unit"] == "U/L"  # IU/L as the contract spells it
    assert by_test["esr"]["unit"] == "mm/h"
    assert (by_test["crp"]["value"], by_test["crp"]["reference_range"]) == (4, {"high": 5})  # SN "<^4"
    assert set(by_test) == {"calcium", "albumin", "alkaline_phosphatase", "esr", "crp"}
    assert result.problems == [] and result.unmapped == []  # potassium: listed by the site under ignore


def test_a_lab_unit_the_contract_does_not_accept_is_refused_by_intake_not_converted(mapper: Any) -> None:
    text = samples.oru_labs("LAB-2", "MRN1", calcium="12.5", calcium_unit="mg/L")
    calcium = mapper(text, check=False).events[0]
    assert calcium.event["data"]["unit"] == "mg/L"
    errors = contracts.validate_event(calcium.event, allowed=contracts.INPUT_TYPES)
    assert errors and errors[0].field == "/data/unit"
    assert calcium.location_of(errors[0].field) == Location("OBX", 1, 6)


def test_a_withdrawn_result_is_a_problem_not_silence(mapper: Any) -> None:
    text = samples.oru_labs("LAB-3", "MRN1").replace(
        "|3.12|mmol/L^^UCUM|2.20-2.60|H|||F|", "|3.12|mmol/L^^UCUM|2.20-2.60|H|||W|"
    )
    result = mapper(text)
    assert [p.location for p in result.problems] == [Location("OBX", 1, 11)]
    assert "withdraws an earlier result" in result.problems[0].message
    assert len(result.events) == 4  # the other results are still mapped


def test_problem_list_gives_cancer_with_spinal_metastases_and_risk_factors(mapper: Any) -> None:
    result = mapper(samples.ppr_problems("PPR-1", "MRN1"))
    assert datas(result) == [
        {
            "cancer": {"primary_site": "breast", "status": "active", "spinal_metastases": "known"},
            "verification": "confirmed",
        },
        {"risk_factors": ["immunosuppression"]},
    ]
    assert result.problems == []  # K21.9 (reflux): the site ignores ICD-10 chapter K


def test_a_secondary_without_a_primary_is_recorded_as_unknown_primary(mapper: Any) -> None:
    text = "\r".join(
        [
            samples.msh("PPR-2", "PPR^PC1^PPR_PC1"),
            samples.pid("MRN1"),
            "PRB|AD|20240430110000+0100|94602001^Secondary malignant neoplasm of vertebral column^SCT|P1",
        ]
    )
    assert datas(mapper(text)) == [
        {"cancer": {"primary_site": "unknown_primary", "status": "active", "spinal_metastases": "known"}}
    ]


def test_a_deleted_problem_withdraws_the_record(mapper: Any) -> None:
    text = samples.ppr_problems("PPR-3", "MRN1").replace(
        "PRB|AD|20240430110000+0100|C50.9", "PRB|DE|20240430110000+0100|C50.9"
    )
    assert datas(mapper(text))[0]["verification"] == "entered_in_error"


def test_adt_gives_birth_date_diagnoses_and_procedures(mapper: Any) -> None:
    result = mapper(samples.adt_a08("PAS-1", "MRN1"))
    assert datas(result) == [
        {"birth_date": "1948-07-22"},
        {"cancer": {"primary_site": "prostate", "status": "active", "spinal_metastases": "suspected"}},
        {
            "category": "palliative_radiotherapy",
            "change": "administered",
            "agent": "Delivery of fraction of external beam radiotherapy NEC",
            "target_site": "thoracic",
        },
    ]
    times = [m.event["time"] for m in result.events]
    assert times == ["2024-05-01T09:00:00.000Z", "2023-01-15T00:00:00.000Z", "2024-04-25T13:00:00.000Z"]


def test_a_v23_adt_with_newline_separators(mapper: Any) -> None:
    text = "\n".join(
        [
            "MSH|^~\\&|PAS|RLH|CAREPATH|RLH|200405011000||ADT^A08|PAS0099|P|2.3",
            "EVN|A08|200405011000",
            "PID|1|9434765919|MRN77^^^RLH||BLOGGS^FRED||19400101|M",
            "DG1|1|I10|C61^Malignant neoplasm of prostate^I10",
        ]
    )
    result = mapper(text)
    assert datas(result) == [
        {"birth_date": "1940-01-01"},
        {"cancer": {"primary_site": "prostate", "status": "active"}},
    ]
    assert result.events[0].event["time"] == "2004-05-01T09:00:00.000Z"  # no offset: London summer time


def test_pharmacy_orders_and_administrations(mapper: Any) -> None:
    started = mapper(samples.rde_o11("RX-1", "MRN1"))
    assert datas(started) == [
        {
            "category": "corticosteroid",
            "change": "started",
            "agent": "dexamethasone",
            "dose": {"value": 16, "unit": "mg"},
        }
    ]
    assert started.events[0].event["time"] == "2024-05-01T08:45:00.000Z"  # ORC-9
    stopped = mapper(samples.rde_o11("RX-2", "MRN1", order_control="DC"))
    assert datas(stopped)[0]["change"] == "stopped"
    given = mapper(samples.ras_o17("RX-3", "MRN1"))
    assert datas(given) == [
        {
            "category": "strong_opioid",
            "change": "administered",
            "agent": "morphine",
            "dose": {"value": 5, "unit": "mg"},
        }
    ]  # the paracetamol was refused (RXA-20 RE): not given


def test_the_same_message_always_maps_to_the_same_ids(mapper: Any) -> None:
    first = mapper(samples.oru_labs("LAB-9", "MRN1"))
    again = mapper(samples.oru_labs("LAB-9", "MRN1"))
    assert [m.event for m in first.events] == [m.event for m in again.events]
    assert [m.event["id"] for m in first.events] == [f"hl7v2:RLHPATH:LAB-9:{i}" for i in range(5)]


def test_patient_id_from_a_configured_assigning_authority(mapper: Any) -> None:
    assert mapper(samples.oru_pain("ID-1", "MRN5")).patient == "MRN5"
    assert mapper(samples.oru_pain("ID-2", "MRN5"), patient_id_authorities=("NHS",)).patient == "9434765919"
    assert mapper(samples.oru_pain("ID-3", "MRN5"), patient_id_authorities=("NH",)).patient == "9434765919"
    missing = mapper(samples.oru_pain("ID-4", "MRN5"), patient_id_authorities=("CHI",))
    assert missing.refused is not None and missing.refused.location == Location("PID", 1, 3)


def test_without_configuration_the_medical_record_number_is_the_key_wherever_it_is_listed(
    mapper: Any,
) -> None:
    # NHS trusts often list the NHS number first; the MRN (type MR) is the FHIR Patient id, so it is the key
    text = samples.oru_pain("ID-6", "MRN5")
    pid = next(line for line in text.split("\r") if line.startswith("PID"))
    fields = pid.split("|")
    nhs_first = "~".join(reversed(fields[3].split("~")))
    assert nhs_first.startswith("9434765919")
    moved = text.replace(pid, "|".join([*fields[:3], nhs_first, *fields[4:]]))
    assert mapper(moved).patient == "MRN5"
    # no identifier of type MR: the first one
    untyped = text.replace(pid, "|".join([*fields[:3], "X77^^^OTHER^PI~Y88^^^NHS^NH", *fields[4:]]))
    assert mapper(untyped).patient == "X77"


def test_a_patient_id_carepath_cannot_key_on_is_refused_not_rewritten(mapper: Any) -> None:
    result = mapper(samples.oru_pain("ID-5", "MRN 5/7"))
    assert result.refused is not None and result.refused.code == DATA_TYPE_ERROR


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("|2.5.1|", "|2.2|"), UNSUPPORTED_VERSION),
        (("ORU^R01^ORU_R01", "MDM^T02^MDM_T02"), UNSUPPORTED_MESSAGE_TYPE),
        (("ORU^R01^ORU_R01", "ORU^R30^ORU_R30"), UNSUPPORTED_EVENT_CODE),
        (("|EPR-7|", "||"), REQUIRED_FIELD_MISSING),
    ],
)
def test_messages_carepath_does_not_take_are_refused_whole(
    mapper: Any, change: tuple[str, str], code: int
) -> None:
    result = mapper(samples.oru_pain("EPR-7", "MRN1").replace(*change))
    assert result.refused is not None and result.refused.code == code and result.events == []


def test_a_message_without_pid_is_refused(mapper: Any) -> None:
    text = "\r".join(
        line for line in samples.oru_pain("EPR-8", "MRN1").split("\r") if not line.startswith("PID")
    )
    result = mapper(text)
    assert result.refused is not None and result.refused.location == Location("PID")


def test_an_unmapped_imaging_text_report_needs_a_known_modality(mapper: Any) -> None:
    text = samples.oru_radiology("R9", "MRN1", procedure="X99^Special study^L").replace("||MR|F", "|||F")
    result = mapper(text)
    assert result.events == []
    assert [p.code for p in result.problems] == [TABLE_VALUE_NOT_FOUND]
    assert result.problems[0].location == Location("OBR", 1, 4)
