"""FHIR R4 resources as an integration engine sends them, for the FHIR tests (unit, integration, e2e)."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CARE_STEP = "https://carepath.example/fhir/CodeSystem/care-step"
FHIR_JSON = "application/fhir+json"

THORACIC = {"coding": [{"system": SNOMED, "code": "122495006", "display": "Thoracic spine structure"}]}
LIMB_WEAKNESS = {"coding": [{"system": SNOMED, "code": "26544005", "display": "Muscle weakness"}]}
WALKING_DIFFICULTY = {"coding": [{"system": SNOMED, "code": "719232003", "display": "Difficulty walking"}]}


def concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def pain_observation(
    rid: str,
    patient: str,
    when: str,
    *,
    nrs: int = 8,
    site: dict[str, Any] | None = None,
    features: tuple[dict[str, Any], ...] = (LIMB_WEAKNESS,),
    version: str | None = "1",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": concept(LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueInteger": nrs,
        "bodySite": site or THORACIC,
        "component": [{"code": f, "valueBoolean": True} for f in features],
    }
    if version is not None:
        resource["meta"] = {"versionId": version}
    resource.update(extra)
    return resource


def cancer_condition(
    rid: str, patient: str, recorded: str, *, code: str = "254837009", status: str = "active", **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "meta": {"versionId": "1"},
        "clinicalStatus": concept(CLINICAL, status),
        "verificationStatus": concept(VERIFICATION, "confirmed"),
        "code": concept(SNOMED, code, "Malignant neoplasm of breast"),
        "subject": {"reference": f"Patient/{patient}"},
        "recordedDate": recorded,
    }
    resource.update(extra)
    return resource


def lab_observation(
    rid: str,
    patient: str,
    when: str,
    *,
    loinc: str = "2000-8",
    value: float = 3.1,
    unit: str = "mmol/L",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "meta": {"versionId": "1"},
        "status": "final",
        "code": concept(LOINC, loinc),
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    resource.update(extra)
    return resource


def entry(resource: dict[str, Any], method: str = "POST", full_url: str | None = None) -> dict[str, Any]:
    url = resource["resourceType"] if method == "POST" else f"{resource['resourceType']}/{resource.get('id')}"
    out: dict[str, Any] = {"resource": resource, "request": {"method": method, "url": url}}
    if full_url:
        out["fullUrl"] = full_url
    return out


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}
