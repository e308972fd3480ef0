"""Every FHIR reader, given an element of the wrong JSON type anywhere, answers 4xx with an OperationOutcome.

Each realistic resource (and a transaction and a batch Bundle of them) is mutated at every element, one at a
time: the value replaced by a string, a number, a boolean, null, an object, a list, and each container
emptied. Every mutant goes through the FHIR channel as intake runs it (parse, R4B validation, mapping,
admission, dead-letter): the answer must be a FHIR answer with a 2xx or 4xx status, never an exception.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from intake.fhir.channel import Answer, FhirChannel
from intake.fhir.codemap import load_code_map
from intake.publisher import MemoryPublisher
from intake.service import Intake
from tests.support.fhir import (
    ATC,
    CARE_STEP,
    LOINC,
    SNOMED,
    UCUM,
    bundle,
    cancer_condition,
    concept,
    entry,
    lab_observation,
    pain_observation,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
WHEN = "2026-11-21T08:30:00Z"
CODES = load_code_map()
PAIN_DETAIL = "https://carepath.example/fhir/CodeSystem/pain-detail"
WRONG: list[Any] = ["x", "", 7, 1.5, -1, True, None, {}, {"reference": {"a": 1}}, [], ["x"], [{}], [[]]]


class FixedClock:
    def now(self) -> datetime:
        return NOW


def resources() -> dict[str, dict[str, Any]]:
    """One realistic resource per reader, with the optional elements each reader looks at."""
    pain = pain_observation("pain-1", "MRN-1", WHEN)
    pain["component"] += [
        {"code": concept(PAIN_DETAIL, "duration"), "valueQuantity": {"value": 3, "code": "d"}},
        {"code": concept(PAIN_DETAIL, "onset"), "valueDateTime": "2026-11-18T08:00:00Z"},
        {"code": concept(PAIN_DETAIL, "improving"), "valueBoolean": False},
        {
            "code": concept(PAIN_DETAIL, "weakness-severity"),
            "valueCodeableConcept": concept(SNOMED, "6736007"),
        },
    ]
    pain["valueQuantity"] = pain.pop("valueInteger") and {"value": 8, "system": UCUM, "code": "{score}"}
    lab = lab_observation("ca-1", "MRN-1", WHEN)
    lab["referenceRange"] = [{"low": {"value": 2.2, "code": "mmol/L"}, "high": {"value": 2.6}}]
    lab["interpretation"] = [
        concept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H")
    ]
    return {
        "Observation": pain,
        "Observation/lab": lab,
        "DiagnosticReport": {
            "resourceType": "DiagnosticReport",
            "id": "mri-1",
            "meta": {"versionId": "1", "source": "urn:hospital:ris"},
            "status": "final",
            "code": concept(LOINC, "36531-2", "MR Spine WO contrast"),
            "subject": {"reference": "Patient/MRN-1"},
            "issued": WHEN,
            "conclusion": "Epidural tumour at T10 compresses the cord.",
            "conclusionCode": [concept(SNOMED, "71286001", "Spinal cord compression")],
        },
        "Condition": cancer_condition("c-1", "MRN-1", WHEN),
        "Patient": {
            "resourceType": "Patient",
            "id": "MRN-1",
            "meta": {"lastUpdated": WHEN},
            "birthDate": "1961-03-14",
        },
        "MedicationRequest": {
            "resourceType": "MedicationRequest",
            "id": "m-1",
            "meta": {"versionId": "1"},
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/MRN-1"},
            "authoredOn": WHEN,
            "medicationCodeableConcept": concept(ATC, "H02AB02", "dexamethasone"),
            "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 16, "code": "mg"}}]}],
        },
        "MedicationAdministration": {
            "resourceType": "MedicationAdministration",
            "id": "ma-1",
            "status": "completed",
            "subject": {"reference": "Patient/MRN-1"},
            "effectiveDateTime": WHEN,
            "medicationReference": {"reference": "#med"},
            "contained": [{"resourceType": "Medication", "id": "med", "code": concept(ATC, "H02AB02")}],
            "dosage": {"dose": {"value": 8, "unit": "mg"}},
        },
        "MedicationStatement": {
            "resourceType": "MedicationStatement",
            "id": "ms-1",
            "status": "completed",
            "subject": {"reference": "Patient/MRN-1"},
            "effectivePeriod": {"start": "2026-11-01", "end": "2026-11-20"},
            "medicationCodeableConcept": concept(ATC, "H02AB02", "dexamethasone"),
        },
        "Procedure": {
            "resourceType": "Procedure",
            "id": "proc-1",
            "status": "completed",
            "code": concept(SNOMED, "392010000", "Percutaneous vertebroplasty"),
            "subject": {"reference": "Patient/MRN-1"},
            "performedPeriod": {"start": WHEN, "end": WHEN},
            "bodySite": [concept(SNOMED, "122496007")],
        },
        "Communication": {
            "resourceType": "Communication",
            "id": "comm-1",
            "status": "completed",
            "category": [concept(CARE_STEP, "decision_to_treat")],
            "subject": {"reference": "Patient/MRN-1"},
            "sent": WHEN,
        },
    }


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every element of a JSON document, as a path of keys and indexes (the root excluded)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def mutants(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for path in paths(doc):
        if path == ("resourceType",):
            continue  # a wrong resourceType is refused before any reader runs; covered elsewhere
        for value in WRONG:
            yield "/".join(map(str, path)) + f" = {value!r}", replaced(doc, path, value)


def answer(kind: str, doc: Any) -> Answer:
    channel = FhirChannel(
        Intake(MemoryPublisher(), FixedClock(), future_tolerance_s=300, dedup_capacity=0), CODES
    )
    raw = orjson.dumps(doc)
    if kind == "Bundle":
        return asyncio.run(channel.bundle(raw, 50))
    return asyncio.run(channel.resource(kind.split("/")[0], raw))


def assert_fhir_answer(result: Answer, where: str) -> None:
    assert 200 <= result.status < 500 and result.status not in (500, 503), where
    assert result.body["resourceType"] in ("OperationOutcome", "Bundle"), where
    orjson.dumps(result.body)


@pytest.mark.parametrize("kind", sorted(resources()))
def test_a_wrong_json_type_anywhere_in_a_resource_is_a_4xx_operation_outcome(kind: str) -> None:
    doc = resources()[kind]
    assert answer(kind, doc).status == 201, "the unmutated resource is stored"
    for where, mutant in mutants(doc):
        try:
            result = answer(kind, mutant)
        except Exception as exc:  # pragma: no cover - the failure message names the mutation
            raise AssertionError(f"{kind} {where}: {type(exc).__name__}: {exc}") from exc
        assert_fhir_answer(result, f"{kind} {where}")


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_wrong_json_type_anywhere_in_a_bundle_is_a_fhir_answer(kind: str) -> None:
    docs = resources()
    doc = bundle(
        kind,
        entry(docs["Patient"], "PUT", "urn:uuid:patient"),
        entry(docs["Observation"]),
        entry(docs["Condition"] | {"subject": {"reference": "urn:uuid:patient"}}),
    )
    assert answer("Bundle", doc).status == 200
    for where, mutant in mutants(doc):
        try:
            result = answer("Bundle", mutant)
        except Exception as exc:  # pragma: no cover
            raise AssertionError(f"Bundle {where}: {type(exc).__name__}: {exc}") from exc
        assert_fhir_answer(result, f"Bundle {where}")


@pytest.mark.parametrize("url", [{"a": 1}, ["Observation"], 7, None, True])
@pytest.mark.parametrize("method", ["POST", {"a": 1}, ["POST"], 7])
def test_a_transaction_entry_request_of_the_wrong_type_is_4xx_naming_the_request(
    url: Any, method: Any
) -> None:
    doc = bundle("transaction", entry(resources()["Observation"]))
    doc["entry"][0]["request"] = {"method": method, "url": url}
    result = answer("Bundle", doc)
    assert result.status in (400, 422) and result.body["resourceType"] == "OperationOutcome"
    assert any("Bundle.entry[0].request" in e for i in result.body["issue"] for e in i.get("expression", []))
