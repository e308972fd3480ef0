"""OperationOutcome building: valid R4, one issue per problem, each naming its element."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from intake.fhir.issues import CODE_INVALID, REQUIRED, FhirError, Issue, information, operation_outcome
from intake.fhir.resources import validate

pytestmark = pytest.mark.unit


def test_an_issue_becomes_a_valid_operation_outcome_with_its_expression() -> None:
    issue = Issue(CODE_INVALID, "http://loinc.org|2951-2 is not listed", "Observation.code", "/code")
    built = operation_outcome([issue])
    parsed = OperationOutcome.model_validate(built)
    assert parsed.issue[0].severity == "error" and parsed.issue[0].code == "code-invalid"
    assert parsed.issue[0].expression == ["Observation.code"]
    assert issue.describe() == "Observation.code: http://loinc.org|2951-2 is not listed"


def test_information_only_outcome_and_an_empty_one_are_valid() -> None:
    ok = OperationOutcome.model_validate(operation_outcome([information("stored")]))
    assert ok.issue[0].severity == "information" and ok.issue[0].expression is None
    assert OperationOutcome.model_validate(operation_outcome([])).issue[0].code == "informational"


def test_model_validation_errors_become_issues_with_expressions_and_pointers() -> None:
    doc = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pain"},
        "component": [{"code": {"text": "x"}, "valueInteger": "many"}],
        "bogus": True,
    }
    with pytest.raises(FhirError) as caught:
        validate("Observation", doc, "Bundle.entry[3].resource")
    found = {(i.expression, i.pointer, i.code) for i in caught.value.issues}
    assert (
        "Bundle.entry[3].resource.component[0].valueInteger",
        "/component/0/valueInteger",
        "value",
    ) in found
    assert ("Bundle.entry[3].resource.bogus", "/bogus", "structure") in found
    assert caught.value.status == 400


def test_a_missing_required_element_is_a_required_issue() -> None:
    with pytest.raises(FhirError) as caught:
        validate("Observation", {"resourceType": "Observation", "code": {"text": "x"}}, "Observation")
    assert (caught.value.issues[0].expression, caught.value.issues[0].code) == (
        "Observation.status",
        REQUIRED,
    )
