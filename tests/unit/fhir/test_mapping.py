"""Each supported FHIR resource maps to the carepath event a clinician would expect, with a deterministic
id; what carepath cannot read is refused with the failing element named (never guessed)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from carepath.contracts import validate_event
from intake.fhir.codemap import load_code_map
from intake.fhir.context import Context
from intake.fhir.issues import FhirError
from intake.fhir.resources import map_resource
from tests.support.fhir import (
    ATC,
    CARE_STEP,
    LOINC,
    SNOMED,
    VERIFICATION,
    WALKING_DIFFICULTY,
    cancer_condition,
    concept,
    lab_observation,
    pain_observation,
)

pytestmark = pytest.mark.unit

CODES = load_code_map()
WHEN = "2026-11-21T09:30:00+01:00"
PAIN_FEATURE = "https://carepath.example/fhir/CodeSystem/pain-feature"
PAIN_DETAIL = "https://carepath.example/fhir/CodeSystem/pain-detail"
FINDING = "https://carepath.example/fhir/CodeSystem/imaging-finding"
DECISION = "https://carepath.example/fhir/CodeSystem/treatment-decision"


def mapped(resource: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    event = map_resource(resource, ctx or Context(CODES)).event
    assert validate_event(event) == [], validate_event(event)
    return event


def refused(resource: dict[str, Any]) -> FhirError:
    with pytest.raises(FhirError) as caught:
        map_resource(resource, Context(CODES))
    return caught.value


# --- pain ---------------------------------------------------------------------------------------------


def test_pain_score_with_leg_weakness_is_a_pain_report() -> None:
    event = mapped(pain_observation("pain-1", "MRN-1", WHEN, nrs=8, features=(WALKING_DIFFICULTY,)))
    assert event["type"] == "carepath.pain.reported.v1"
    assert event["subject"] == "MRN-1"
    assert event["time"] == "2026-11-21T08:30:00.000Z"
    assert event["data"] == {"nrs": 8, "site": ["thoracic"], "neurological": ["walking_difficulty"]}


def test_pain_details_are_read_from_components() -> None:
    resource = pain_observation(
        "pain-2",
        "MRN-1",
        WHEN,
        features=(),
        component=[
            {"code": concept(PAIN_FEATURE, "night_pain"), "valueBoolean": True},
            {"code": concept(PAIN_FEATURE, "weight_loss"), "valueBoolean": True},
            {"code": concept(SNOMED, "26544005"), "valueBoolean": True},
            {"code": concept(SNOMED, "44077006"), "valueBoolean": False},  # stated absent
            {
                "code": concept(PAIN_DETAIL, "weakness-severity"),
                "valueCodeableConcept": concept(SNOMED, "6736007", "Moderate"),
            },
            {
                "code": concept(PAIN_DETAIL, "neurological-status"),
                "valueCodeableConcept": concept(
                    "https://carepath.example/fhir/CodeSystem/neurological-status", "worsening"
                ),
            },
            {"code": concept(PAIN_DETAIL, "duration"), "valueQuantity": {"value": 3, "code": "wk"}},
            {"code": concept(PAIN_DETAIL, "onset"), "valueDateTime": "2026-10-31T08:00:00Z"},
            {"code": concept(PAIN_DETAIL, "improving"), "valueBoolean": False},
        ],
    )
    assert mapped(resource)["data"] == {
        "nrs": 8,
        "site": ["thoracic"],
        "character": ["night_pain"],
        "systemic": ["weight_loss"],
        "neurological": ["limb_weakness"],
        "weakness_severity": "moderate",
        "neurological_status": "worsening",
        "duration_days": 21.0,
        "onset": "2026-10-31T08:00:00.000Z",
        "improving": False,
    }


@pytest.mark.parametrize(
    ("when", "onset", "read"),
    [
        # a flowsheet's onset row is often a day: its first moment in UTC
        ("2026-11-21T09:30:00+01:00", "2026-11-18", "2026-11-18T00:00:00.000Z"),
        # the day of the assessment itself, assessed before midnight UTC: no later than the assessment
        ("2026-06-01T00:30:00+01:00", "2026-06-01", "2026-05-31T23:30:00.000Z"),
    ],
)
def test_an_onset_sent_as_a_date_is_read(when: str, onset: str, read: str) -> None:
    resource = pain_observation(
        "pain-d", "MRN-1", when, component=[{"code": concept(PAIN_DETAIL, "onset"), "valueDateTime": onset}]
    )
    assert mapped(resource)["data"]["onset"] == read


def test_an_onset_after_the_assessment_is_still_refused() -> None:
    resource = pain_observation(
        "pain-e",
        "MRN-1",
        WHEN,
        component=[{"code": concept(PAIN_DETAIL, "onset"), "valueDateTime": "2026-11-25"}],
    )
    event = map_resource(resource, Context(CODES)).event
    assert any("onset" in str(problem) for problem in validate_event(event))


def test_a_new_episode_is_read_from_its_component() -> None:
    resource = pain_observation(
        "pain-f",
        "MRN-1",
        WHEN,
        component=[{"code": concept(PAIN_DETAIL, "new-episode"), "valueBoolean": True}],
    )
    assert mapped(resource)["data"]["new_episode"] is True


def test_pain_score_as_a_quantity_is_read_when_whole() -> None:
    resource = pain_observation("pain-3", "MRN-1", WHEN)
    del resource["valueInteger"]
    resource["valueQuantity"] = {"value": 6, "system": "http://unitsofmeasure.org", "code": "{score}"}
    assert mapped(resource)["data"]["nrs"] == 6
    resource["valueQuantity"]["value"] = 6.5
    problem = refused(resource)
    assert problem.issues[0].expression == "Observation.valueQuantity.value"


def test_an_unknown_component_is_not_read_and_the_score_is_kept() -> None:
    """A flowsheet row carepath has no code for must not cost the patient the pain score."""
    resource = pain_observation("pain-y", "MRN-1", WHEN)
    resource["component"] = [{"code": concept(SNOMED, "271594007", "Syncope"), "valueBoolean": True}]
    result = map_resource(resource, Context(CODES))
    assert result.event["data"]["nrs"] == resource["valueInteger"]
    [issue] = result.unread
    assert (issue.severity, issue.code, issue.expression) == (
        "warning",
        "not-supported",
        "Observation.component[0]",
    )
    assert "271594007" in issue.diagnostics
    assert result.unread_codes == (("http://snomed.info/sct", "271594007"),)


@pytest.mark.parametrize(
    ("change", "expression", "code"),
    [
        ({"bodySite": concept(SNOMED, "16982005", "Shoulder")}, "Observation.bodySite", "code-invalid"),
        ({"bodySite": None}, "Observation.bodySite", "required"),
        ({"valueInteger": None}, "Observation.valueInteger", "required"),
        ({"status": "registered"}, "Observation.status", "value"),
        ({"effectiveDateTime": "2026-11-21"}, "Observation.effectiveDateTime", "value"),
        ({"effectiveDateTime": None}, "Observation.effectiveDateTime", "required"),
        ({"subject": {"reference": "Group/ward-7"}}, "Observation.subject.reference", "value"),
        ({"subject": None}, "Observation.subject", "required"),
        ({"code": concept(LOINC, "8867-4", "Heart rate")}, "Observation.code", "code-invalid"),
        (
            {"component": [{"code": concept(SNOMED, "26544005")}]},
            "Observation.component[0].valueBoolean",
            "required",
        ),
    ],
)
def test_pain_report_problems_name_the_element(change: dict[str, Any], expression: str, code: str) -> None:
    resource = pain_observation("pain-x", "MRN-1", WHEN)
    for key, value in change.items():
        if value is None:
            resource.pop(key)
        else:
            resource[key] = value
    problem = refused(resource)
    assert problem.status == 422
    assert (problem.issues[0].expression, problem.issues[0].code) == (expression, code)


def test_an_unlisted_code_is_named_in_the_diagnostics() -> None:
    resource = pain_observation("pain-x", "MRN-1", WHEN, code=concept(LOINC, "8867-4"))
    assert "http://loinc.org|8867-4" in refused(resource).issues[0].diagnostics


def test_invalid_fhir_is_refused_as_400_naming_each_element() -> None:
    resource = pain_observation("pain-x", "MRN-1", WHEN, valueInteger="eight", colour="red")
    problem = refused(resource)
    assert problem.status == 400
    found = {(i.expression, i.code) for i in problem.issues}
    assert ("Observation.valueInteger", "value") in found and ("Observation.colour", "structure") in found


# --- ids --------------------------------------------------------------------------------------------


def test_event_id_is_resource_type_id_and_version() -> None:
    assert (
        mapped(pain_observation("pain-1", "MRN-1", WHEN, version="3"))["id"]
        == "Observation/pain-1/_history/3"
    )


def test_without_a_version_the_same_content_gives_the_same_id_and_a_change_a_new_one() -> None:
    first = mapped(pain_observation("pain-1", "MRN-1", WHEN, version=None))["id"]
    again = mapped(pain_observation("pain-1", "MRN-1", WHEN, version=None))["id"]
    changed = mapped(pain_observation("pain-1", "MRN-1", WHEN, version=None, nrs=9))["id"]
    assert first == again != changed and first.startswith("Observation/pain-1/_history/sha256-")


def test_meta_source_names_the_sender() -> None:
    resource = pain_observation(
        "pain-1", "MRN-1", WHEN, meta={"versionId": "1", "source": "urn:hospital:epr"}
    )
    assert mapped(resource)["source"] == "urn:hospital:epr"
    assert mapped(pain_observation("pain-1", "MRN-1", WHEN))["source"] == "urn:carepath:fhir"


def test_patient_references_absolute_versioned_and_bundle_internal() -> None:
    absolute = pain_observation(
        "p", "x", WHEN, subject={"reference": "https://fhir.example/r4/Patient/MRN-9/_history/2"}
    )
    assert mapped(absolute)["subject"] == "MRN-9"
    internal = pain_observation("p", "x", WHEN, subject={"reference": "urn:uuid:7f0c"})
    assert mapped(internal, Context(CODES, {"urn:uuid:7f0c": "MRN-7"}))["subject"] == "MRN-7"
    assert refused(internal).issues[0].expression == "Observation.subject.reference"


# --- labs -------------------------------------------------------------------------------------------


def test_calcium_with_range_and_flag_is_a_lab_result() -> None:
    resource = lab_observation(
        "ca-1",
        "MRN-1",
        WHEN,
        loinc="17861-6",
        value=13.2,
        unit="mg/dL",
        referenceRange=[{"low": {"value": 8.5, "code": "mg/dL"}, "high": {"value": 10.5}}],
        interpretation=[concept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H")],
    )
    assert mapped(resource)["data"] == {
        "test": "calcium",
        "value": 13.2,
        "unit": "mg/dL",
        "reference_range": {"low": 8.5, "high": 10.5},
        "abnormal_flag": "H",
    }


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "test"),
    [
        ("1751-7", 32, "g/L", "albumin"),
        ("6768-6", 410, "U/L", "alkaline_phosphatase"),
        ("4537-7", 88, "mm/h", "esr"),
        ("1988-5", 120, "mg/L", "crp"),
    ],
)
def test_the_other_listed_labs(loinc: str, value: float, unit: str, test: str) -> None:
    data = mapped(lab_observation("l-1", "MRN-1", WHEN, loinc=loinc, value=value, unit=unit))["data"]
    assert (data["test"], data["value"], data["unit"]) == (test, value, unit)


def test_lab_unit_problems_name_the_unit() -> None:
    unknown = refused(lab_observation("l-1", "MRN-1", WHEN, unit="mg/dl"))
    assert unknown.issues[0].expression == "Observation.valueQuantity.code"
    assert "'mg/dl'" in unknown.issues[0].diagnostics and unknown.issues[0].code == "code-invalid"
    wrong_for_test = lab_observation("l-1", "MRN-1", WHEN, loinc="1988-5", unit="mmol/L")  # CRP in mmol/L
    event = map_resource(wrong_for_test, Context(CODES)).event
    [error] = validate_event(event)[:1]
    assert error.field == "/data/unit"
    assert map_resource(wrong_for_test, Context(CODES)).locate("/data/unit").expression == (
        "Observation.valueQuantity.code"
    )


def test_a_bounded_lab_result_is_refused_not_guessed() -> None:
    resource = lab_observation("l-1", "MRN-1", WHEN, loinc="1988-5", unit="mg/L")
    resource["valueQuantity"]["comparator"] = "<"
    assert refused(resource).issues[0].expression == "Observation.valueQuantity.comparator"


# --- imaging ------------------------------------------------------------------------------------------


def report(**extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": "mri-1",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": concept(LOINC, "36531-2", "MR Spine WO contrast"),
        "subject": {"reference": "Patient/MRN-1"},
        "issued": WHEN,
        "conclusion": "Epidural tumour at T10 compresses the cord.",
        "conclusionCode": [concept(SNOMED, "71286001", "Spinal cord compression")],
    }
    resource.update(extra)
    return resource


def test_mri_report_with_cord_compression() -> None:
    event = mapped(report())
    assert event["type"] == "carepath.imaging.resulted.v1"
    assert event["data"] == {
        "modality": "mri",
        "region": "whole_spine",
        "report_status": "final",
        "findings": [
            {"code": "cord_compression", "certainty": "confirmed"},
            # read from the conclusion's text, with the sentence as evidence
            {
                "code": "epidural_disease",
                "certainty": "confirmed",
                "evidence": "Epidural tumour at T10 compresses the cord.",
            },
        ],
        "impression": "Epidural tumour at T10 compresses the cord.",
    }


def test_a_report_sent_with_text_only_is_read_from_its_text() -> None:
    """As integration engines often send radiology: the report as base64 plain text, no coded conclusion."""
    text = "MRI whole spine. Metastatic deposit at T11 with compression of the spinal cord.\nCONCLUSION: MSCC at T11."
    resource = report()
    del resource["conclusionCode"]
    del resource["conclusion"]
    resource["presentedForm"] = [
        {"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(text.encode()).decode()}
    ]
    findings = {f["code"]: f["certainty"] for f in mapped(resource)["data"]["findings"]}
    assert findings["cord_compression"] == "confirmed"


def test_an_unknown_conclusion_code_is_not_read_and_the_text_is() -> None:
    resource = report(conclusionCode=[concept(SNOMED, "399912005", "Pressure ulcer")])
    result = map_resource(resource, Context(CODES))
    [issue] = result.unread
    assert (issue.severity, issue.expression) == ("warning", "DiagnosticReport.conclusionCode[0]")
    assert {f["code"] for f in result.event["data"]["findings"]} == {"cord_compression", "epidural_disease"}


def test_mri_report_that_excludes_compression() -> None:
    excluded = report(conclusionCode=[concept(FINDING, "cord_compression.excluded")], status="amended")
    data = mapped(excluded)["data"]
    # the coded conclusion wins over the text's reading of the same finding
    assert data["findings"][0] == {"code": "cord_compression", "certainty": "excluded"}
    assert data["report_status"] == "amended"


def test_contradictory_findings_are_refused() -> None:
    both = report(conclusionCode=[concept(SNOMED, "71286001"), concept(FINDING, "cord_compression.excluded")])
    problem = refused(both)
    assert (
        problem.issues[0].expression == "DiagnosticReport.conclusionCode[1]"
        and problem.issues[0].code == "conflict"
    )


def test_unlisted_imaging_study_is_refused() -> None:
    assert (
        refused(report(code=concept(LOINC, "24627-2", "CT Chest"))).issues[0].expression
        == "DiagnosticReport.code"
    )


# --- conditions and patient -----------------------------------------------------------------------------


def test_breast_cancer_condition_is_a_diagnosis() -> None:
    event = mapped(cancer_condition("c-1", "MRN-1", "2026-11-01"))
    assert event["type"] == "carepath.diagnosis.recorded.v1"
    assert event["time"] == "2026-11-01T00:00:00.000Z"
    assert event["data"] == {
        "verification": "confirmed",
        "cancer": {"primary_site": "breast", "status": "active"},
    }


def test_icd10_cancer_in_remission_and_entered_in_error() -> None:
    icd = cancer_condition("c-2", "MRN-1", WHEN, status="remission", code="x")
    icd["code"] = concept("http://hl7.org/fhir/sid/icd-10", "C61")
    assert mapped(icd)["data"]["cancer"] == {"primary_site": "prostate", "status": "remission"}
    withdrawn = cancer_condition(
        "c-3", "MRN-1", WHEN, verificationStatus=concept(VERIFICATION, "entered-in-error")
    )
    del withdrawn["clinicalStatus"]
    assert mapped(withdrawn)["data"]["verification"] == "entered_in_error"


def test_a_cancer_without_clinical_status_is_refused() -> None:
    resource = cancer_condition("c-4", "MRN-1", WHEN)
    del resource["clinicalStatus"]
    assert refused(resource).issues[0].expression == "Condition.clinicalStatus"


def test_risk_factor_condition() -> None:
    resource = cancer_condition("c-5", "MRN-1", WHEN, code="38013005")
    assert mapped(resource)["data"]["risk_factors"] == ["immunosuppression"]


def test_patient_gives_the_date_of_birth() -> None:
    patient = {"resourceType": "Patient", "id": "MRN-1", "birthDate": "1961-03-14"}
    event = mapped(patient)
    assert (event["subject"], event["data"]) == ("MRN-1", {"birth_date": "1961-03-14"})
    assert refused({"resourceType": "Patient", "id": "MRN-1", "birthDate": "1961"}).issues[0].expression == (
        "Patient.birthDate"
    )
    assert refused({"resourceType": "Patient", "id": "MRN-1"}).issues[0].code == "required"


# --- treatment ------------------------------------------------------------------------------------------


def medication(resource_type: str, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": resource_type,
        "id": "m-1",
        "meta": {"versionId": "1"},
        "subject": {"reference": "Patient/MRN-1"},
        "medicationCodeableConcept": concept(ATC, "H02AB02", "dexamethasone"),
    }
    resource.update(extra)
    return resource


def test_dexamethasone_request_with_dose() -> None:
    resource = medication(
        "MedicationRequest",
        status="active",
        intent="order",
        authoredOn=WHEN,
        dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 16, "code": "mg/d"}}]}],
    )
    assert mapped(resource)["data"] == {
        "category": "corticosteroid",
        "change": "started",
        "agent": "dexamethasone",
        "dose": {"value": 16, "unit": "mg/day"},
    }
    resource["priorPrescription"] = {"reference": "MedicationRequest/m-0"}
    assert mapped(resource)["data"]["change"] == "dose_changed"


def test_a_fentanyl_patch_rate_in_micrograms_per_hour() -> None:
    resource = medication(
        "MedicationRequest",
        status="active",
        intent="order",
        authoredOn=WHEN,
        medicationCodeableConcept=concept(ATC, "N02AB03", "fentanyl"),
        dosageInstruction=[
            {
                "doseAndRate": [
                    {"doseQuantity": {"value": 25, "system": "http://unitsofmeasure.org", "code": "ug/h"}}
                ]
            }
        ],
    )
    assert mapped(resource)["data"]["dose"] == {"value": 25, "unit": "microgram/hour"}


def test_administration_and_statement_and_contained_medication() -> None:
    given = medication("MedicationAdministration", status="completed", effectiveDateTime=WHEN)
    given["medicationCodeableConcept"] = concept(ATC, "N02AA01", "morphine")
    assert mapped(given)["data"] == {
        "category": "strong_opioid",
        "change": "administered",
        "agent": "morphine",
    }
    stopped = medication("MedicationStatement", status="stopped", effectivePeriod={"end": "2026-11-20"})
    del stopped["medicationCodeableConcept"]
    stopped["contained"] = [{"resourceType": "Medication", "id": "med", "code": concept(ATC, "M05BA08")}]
    stopped["medicationReference"] = {"reference": "#med"}
    data = mapped(stopped)["data"]
    assert (data["category"], data["change"]) == ("bisphosphonate", "stopped")


def test_unlisted_medication_and_unknown_dose_unit_are_refused() -> None:
    unknown = medication("MedicationRequest", status="active", intent="order", authoredOn=WHEN)
    unknown["medicationCodeableConcept"] = concept(ATC, "C09AA05", "ramipril")
    assert refused(unknown).issues[0].expression == "MedicationRequest.medicationCodeableConcept"
    dosed = medication(
        "MedicationRequest",
        status="active",
        intent="order",
        authoredOn=WHEN,
        dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 2, "code": "tablets"}}]}],
    )
    assert refused(dosed).issues[0].expression == (
        "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.code"
    )


def test_vertebroplasty_procedure_at_a_spinal_site() -> None:
    resource = {
        "resourceType": "Procedure",
        "id": "proc-1",
        "status": "completed",
        "code": concept(SNOMED, "392010000", "Percutaneous vertebroplasty"),
        "subject": {"reference": "Patient/MRN-1"},
        "performedDateTime": WHEN,
        "bodySite": [concept(SNOMED, "122496007")],
    }
    assert mapped(resource)["data"] == {
        "category": "vertebroplasty",
        "change": "administered",
        "agent": "Percutaneous vertebroplasty",
        "target_site": "lumbar",
    }


# --- care steps -----------------------------------------------------------------------------------------


def test_communication_records_a_decision_to_treat() -> None:
    resource = {
        "resourceType": "Communication",
        "id": "comm-1",
        "status": "completed",
        "category": [concept(CARE_STEP, "decision_to_treat")],
        "reasonCode": [concept(DECISION, "radiotherapy")],
        "subject": {"reference": "Patient/MRN-1"},
        "sent": WHEN,
    }
    event = mapped(resource)
    assert event["type"] == "carepath.care_step.recorded.v1"
    assert event["data"] == {"step": "decision_to_treat", "decision": "radiotherapy"}


def test_communication_without_a_listed_category_is_refused() -> None:
    resource = {
        "resourceType": "Communication",
        "id": "comm-2",
        "status": "completed",
        "category": [concept("http://terminology.hl7.org/CodeSystem/communication-category", "notification")],
        "subject": {"reference": "Patient/MRN-1"},
        "sent": WHEN,
    }
    problem = refused(resource)
    assert (
        problem.issues[0].expression == "Communication.category[0]"
        and problem.issues[0].code == "code-invalid"
    )


def test_unsupported_resource_types_are_refused() -> None:
    problem = refused({"resourceType": "Encounter", "id": "e-1", "status": "finished"})
    assert problem.issues[0].code == "not-supported"
