"""Symptoms as hospitals send them over FHIR R4 -> carepath.symptom.recorded.v1.

A coded symptom observation (LOINC 75325-1 "Symptom" with the SNOMED CT finding as its value, as US Core and
UK nursing systems record them), a body temperature (LOINC 8310-5, UCUM Cel or [degF]), and a symptom sent
as a Condition (an encounter diagnosis of urinary retention).
"""

from __future__ import annotations

from typing import Any

import pytest

from carepath.contracts import validate_event
from intake.fhir.codemap import load_code_map
from intake.fhir.context import Context
from intake.fhir.issues import FhirError
from intake.fhir.resources import map_resource

pytestmark = pytest.mark.unit

CODES = load_code_map()
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
COURSE = "https://carepath.example/fhir/CodeSystem/neurological-status"
DETAIL = "https://carepath.example/fhir/CodeSystem/pain-detail"


def concept(system: str, code: str, display: str = "", text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display or code}]}
    if text:
        out["text"] = text
    return out


def symptom(finding: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "sym-1",
        "meta": {"versionId": "1"},
        "status": "final",
        "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "exam", "Exam")],
        "code": concept(LOINC, "75325-1", "Symptom"),
        "subject": {"reference": "Patient/NGH1000002"},
        "effectiveDateTime": "2025-01-15T10:00:00+00:00",
        "valueCodeableConcept": finding,
        **extra,
    }


def event(resource: dict[str, Any]) -> dict[str, Any]:
    out = map_resource(resource, Context(CODES)).event
    assert validate_event(out) == [], validate_event(out)
    return out


def test_new_leg_weakness_with_its_course_and_severity() -> None:
    resource = symptom(
        concept(SNOMED, "26544005", "Muscle weakness", "Both legs weak since this morning"),
        component=[
            {"code": concept(DETAIL, "neurological-status"), "valueCodeableConcept": concept(COURSE, "new")},
            {
                "code": concept(DETAIL, "weakness-severity"),
                "valueCodeableConcept": concept(SNOMED, "24484000"),
            },
        ],
    )
    out = event(resource)
    assert out["type"] == "carepath.symptom.recorded.v1"
    assert out["subject"] == "NGH1000002"
    assert out["data"] == {"neurological": ["limb_weakness"], "status": "new", "weakness_severity": "severe"}


def test_numbness_with_a_perineal_site_is_saddle_anaesthesia() -> None:
    resource = symptom(
        concept(SNOMED, "44077006", "Numbness", "Numb between the legs when wiping"),
        bodySite=concept(SNOMED, "38864007", "Perineal structure"),
    )
    assert event(resource)["data"] == {"neurological": ["saddle_anaesthesia"]}


def test_numbness_of_a_spinal_region_keeps_its_site() -> None:
    resource = symptom(concept(SNOMED, "44077006", "Numbness"), bodySite=concept(SNOMED, "122495006"))
    assert event(resource)["data"] == {"neurological": ["sensory_loss"], "site": ["thoracic"]}


def test_weakness_of_a_limb_is_read_whole_and_a_site_carepath_does_not_know_is_named() -> None:
    # 61685007 Lower limb structure: a known site outside the spine, which no rule reads: nothing unread
    legs = symptom(concept(SNOMED, "26544005", "Muscle weakness"), bodySite=concept(SNOMED, "61685007"))
    result = map_resource(legs, Context(CODES))
    assert result.event["data"] == {"neurological": ["limb_weakness"]}
    assert not result.unread
    # 69536005 Head structure: neither spine, saddle area nor limb - the symptom is read, the site named
    head = symptom(concept(SNOMED, "44077006", "Numbness"), bodySite=concept(SNOMED, "69536005"))
    result = map_resource(head, Context(CODES))
    assert result.event["data"] == {"neurological": ["sensory_loss"]}
    assert [i.expression for i in result.unread] == ["Observation.bodySite"]


def test_a_severity_of_another_finding_is_not_read_as_weakness() -> None:
    resource = symptom(
        concept(SNOMED, "422400008", "Vomiting"),
        component=[
            {"code": concept(DETAIL, "weakness-severity"), "valueCodeableConcept": concept(SNOMED, "6736007")}
        ],
    )
    result = map_resource(resource, Context(CODES))
    assert result.event["data"] == {"systemic": ["vomiting"]}
    assert [i.expression for i in result.unread] == ["Observation.component[0].valueCodeableConcept"]


def test_an_unknown_finding_is_refused_naming_it() -> None:
    with pytest.raises(FhirError) as refused:
        map_resource(symptom(concept(SNOMED, "25064002", "Headache")), Context(CODES))
    issue = refused.value.issues[0]
    assert (issue.expression, issue.code) == ("Observation.valueCodeableConcept", "code-invalid")
    assert "25064002" in issue.diagnostics


def temperature(value: float, unit: str, system: str | None = UCUM) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit, "code": unit}
    if system:
        quantity["system"] = system
    return {
        "resourceType": "Observation",
        "id": "temp-1",
        "status": "final",
        "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")],
        "code": concept(LOINC, "8310-5", "Body temperature"),
        "subject": {"reference": "Patient/RMC2000010"},
        "effectiveDateTime": "2025-03-02T08:15:00-06:00",
        "valueQuantity": quantity,
    }


@pytest.mark.parametrize(("value", "unit"), [(38.6, "Cel"), (101.5, "[degF]")])
def test_a_body_temperature_is_recorded_with_its_unit(value: float, unit: str) -> None:
    assert event(temperature(value, unit))["data"] == {"temperature": {"value": value, "unit": unit}}


@pytest.mark.parametrize(
    ("unit", "system"), [("degC", UCUM), ("K", UCUM), ("Cel", "http://example.org/units")]
)
def test_a_temperature_in_another_unit_is_refused(unit: str, system: str) -> None:
    with pytest.raises(FhirError) as refused:
        map_resource(temperature(38.6, unit, system), Context(CODES))
    assert refused.value.issues[0].expression == "Observation.valueQuantity.code"


def condition(
    code: dict[str, Any], clinical: str = "active", verification: str = "confirmed"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "cond-3",
        "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical),
        "verificationStatus": concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", verification
        ),
        "category": [
            concept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")
        ],
        "code": code,
        "subject": {"reference": "Patient/NGH1000002"},
        "recordedDate": "2025-01-15T10:15:00+00:00",
    }


def test_urinary_retention_as_a_diagnosis_is_a_symptom() -> None:
    out = event(condition(concept(SNOMED, "267064002", "Retention of urine")))
    assert (out["type"], out["data"]) == (
        "carepath.symptom.recorded.v1",
        {"neurological": ["bladder_dysfunction"]},
    )


def test_a_resolved_symptom_diagnosis_is_improving() -> None:
    out = event(condition(concept(SNOMED, "267064002"), clinical="resolved"))
    assert out["data"] == {"neurological": ["bladder_dysfunction"], "status": "improving"}


def test_a_refuted_symptom_diagnosis_is_refused_not_dropped() -> None:
    with pytest.raises(FhirError) as refused:
        map_resource(condition(concept(SNOMED, "267064002"), verification="refuted"), Context(CODES))
    assert refused.value.issues[0].expression == "Condition.verificationStatus"


def test_faecal_incontinence_coded_in_icd10cm_only() -> None:
    code = concept("http://hl7.org/fhir/sid/icd-10-cm", "R15.9", "Full incontinence of feces")
    assert event(condition(code))["data"] == {"neurological": ["bowel_dysfunction"]}


def finding_as_code(code: str, display: str, **extra: Any) -> dict[str, Any]:
    resource = symptom(concept(SNOMED, "0"))
    del resource["valueCodeableConcept"]
    return resource | {"code": concept(SNOMED, code, display)} | extra


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"valueBoolean": True},
        {"valueCodeableConcept": concept("http://terminology.hl7.org/CodeSystem/v2-0136", "Y", "Yes")},
        {"valueCodeableConcept": concept(SNOMED, "52101004", "Present")},
    ],
)
def test_a_finding_sent_as_the_observation_code_is_read_as_present(answer: dict[str, Any]) -> None:
    # SNOMED CT on FHIR: Observation.code is the finding itself, as flowsheet rows are often exported; the
    # same finding in an HL7 v2 OBX-3 is read the same way (tests/unit/hl7/test_symptoms.py)
    assert event(finding_as_code("26544005", "Muscle weakness", **answer))["data"] == {
        "neurological": ["limb_weakness"]
    }


def test_numbness_as_the_observation_code_with_a_perineal_site_is_saddle_anaesthesia() -> None:
    resource = finding_as_code("44077006", "Numbness", bodySite=concept(SNOMED, "38864007"))
    assert event(resource)["data"] == {"neurological": ["saddle_anaesthesia"]}


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({"valueBoolean": False}, "Observation.valueBoolean"),
        ({"valueCodeableConcept": concept(SNOMED, "2667000", "Absent")}, "Observation.valueCodeableConcept"),
    ],
)
def test_a_finding_stated_absent_is_refused_naming_the_answer(answer: dict[str, Any], where: str) -> None:
    with pytest.raises(FhirError) as refused:
        map_resource(finding_as_code("26544005", "Muscle weakness", **answer), Context(CODES))
    assert [i.expression for i in refused.value.issues] == [where]
