"""A FHIR Task records a care step done: POST /fhir/Task through the real app stores
carepath.care_step.recorded.v1 (step from Task.code, conclusion from businessStatus, decision from the
decision output), as the hospitals send it (tests/conformance/HOSPITAL.md, codes from a site overlay). A Task
that is not completed, or whose code is not listed, is refused 422 naming the element and never stored."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.operationoutcome import OperationOutcome

from carepath import topics
from carepath.contracts import validate_event
from intake.publisher import MemoryPublisher
from tests.support.fhir import FHIR_JSON
from tests.unit.intake.support import AUTH, served

pytestmark = pytest.mark.unit

HEADERS = {**AUTH, "Content-Type": FHIR_JSON}
NGH = "https://fhir.northgate-hospital.example/CodeSystem"
RMC = "https://fhir.riverbend-medical.example/CodeSystem"
CARE_STEP = "https://carepath.example/fhir/CodeSystem/care-step"
CONCLUSION = "https://carepath.example/fhir/CodeSystem/review-conclusion"
DECISION = "https://carepath.example/fhir/CodeSystem/treatment-decision"

# What a site's terminology team writes for the two corpus hospitals (the local codes of HOSPITAL.md).
SITE_OVERLAY = f"""
site: corpus-hospitals
version: "1"
systems:
  - {{uri: "{NGH}/care-steps", name: NGH care steps}}
  - {{uri: "{RMC}/care-steps", name: RMC care steps}}
  - {{uri: "{NGH}/review-outcome", name: NGH review outcome}}
  - {{uri: "{RMC}/review-outcome", name: RMC review outcome}}
  - {{uri: "{RMC}/treatment-decision", name: RMC treatment decision}}
  - {{uri: "{NGH}/communication-kind", name: NGH communication kind}}
  - {{uri: "{RMC}/communication-kind", name: RMC communication kind}}
value_sets:
  - id: care.decision_to_treat
    include:
      - {{system: "{RMC}/care-steps", codes: [{{code: decision-to-treat}}, {{code: treatment-plan-agreed}}]}}
  - id: care.clinician_review
    include:
      - {{system: "{NGH}/care-steps", codes: [{{code: clinician-review}}]}}
      - {{system: "{RMC}/care-steps", codes: [{{code: clinician-review}}]}}
  - id: care.spinal_surgical_opinion
    include:
      - {{system: "{RMC}/care-steps", codes: [{{code: spinal-surgical-opinion}}]}}
  - id: care.mscc_coordinator_contacted
    include:
      - {{system: "{NGH}/communication-kind", codes: [{{code: mscc-coordinator-contact}}]}}
      - {{system: "{RMC}/communication-kind", codes: [{{code: mscc-coordinator-contact}}]}}
  - id: care.escalation_acknowledgement
    include:
      - {{system: "{NGH}/communication-kind", codes: [{{code: escalation-acknowledgement}}]}}
      - {{system: "{RMC}/communication-kind", codes: [{{code: escalation-acknowledgement}}]}}
  - id: care.acknowledgement_override
    include:
      - {{system: "{NGH}/communication-kind", codes: [{{code: override}}]}}
      - {{system: "{RMC}/communication-kind", codes: [{{code: override}}]}}
  - id: review.non_specific_back_pain
    include:
      - {{system: "{NGH}/review-outcome", codes: [{{code: non-specific-back-pain}}]}}
      - {{system: "{RMC}/review-outcome", codes: [{{code: non-specific-back-pain}}]}}
  - id: review.mscc_excluded
    include:
      - {{system: "{RMC}/review-outcome", codes: [{{code: mscc-excluded}}]}}
  - id: review.instability_suspected
    include:
      - {{system: "{RMC}/review-outcome", codes: [{{code: instability-suspected}}]}}
  - id: decision.radiotherapy
    include:
      - {{system: "{RMC}/treatment-decision", codes: [{{code: radiotherapy}}]}}
  - id: decision.surgery
    include:
      - {{system: "{RMC}/treatment-decision", codes: [{{code: surgery}}]}}
  - id: decision.systemic
    include:
      - {{system: "{RMC}/treatment-decision", codes: [{{code: systemic}}]}}
"""

# --- the corpus's Tasks, as sent (tests/conformance/timelines) --------------------------------------------

# ngh-08: clinician review, back pain judged non-specific (Europe/London, winter)
NGH08_REVIEW: dict[str, Any] = {
    "resourceType": "Task",
    "id": "ngh-08-task-3",
    "meta": {"versionId": "1"},
    "status": "completed",
    "intent": "order",
    "code": {
        "coding": [{"system": f"{NGH}/care-steps", "code": "clinician-review", "display": "Clinician review"}]
    },
    "for": {"reference": "Patient/NGH1000008"},
    "authoredOn": "2025-02-11T09:00:00+00:00",
    "lastModified": "2025-02-11T09:00:00+00:00",
    "executionPeriod": {"end": "2025-02-11T09:00:00+00:00"},
    "businessStatus": {
        "coding": [
            {
                "system": f"{NGH}/review-outcome",
                "code": "non-specific-back-pain",
                "display": "Non-specific back pain",
            }
        ]
    },
    "note": [{"text": "GP review: pain settling with physiotherapy."}],
}

# rmc-01: decision to treat, radiotherapy (America/Chicago)
RMC01_DECISION: dict[str, Any] = {
    "resourceType": "Task",
    "id": "rmc-01-task-9",
    "meta": {"versionId": "1"},
    "status": "completed",
    "intent": "order",
    "code": {
        "coding": [
            {"system": f"{RMC}/care-steps", "code": "decision-to-treat", "display": "Decision to treat"}
        ]
    },
    "for": {"reference": "Patient/RMC2000001"},
    "authoredOn": "2025-03-10T16:30:00-05:00",
    "lastModified": "2025-03-10T16:30:00-05:00",
    "executionPeriod": {"end": "2025-03-10T16:30:00-05:00"},
    "output": [
        {
            "type": {
                "coding": [{"system": f"{RMC}/treatment-decision", "code": "decision", "display": "Decision"}]
            },
            "valueCodeableConcept": {
                "coding": [
                    {"system": f"{RMC}/treatment-decision", "code": "radiotherapy", "display": "Radiotherapy"}
                ]
            },
        }
    ],
    "note": [{"text": "MDT: palliative radiotherapy 20 Gy in 5 fractions to T6-T8."}],
}

# rmc-05: decision to treat, systemic therapy
RMC05_SYSTEMIC: dict[str, Any] = {
    "resourceType": "Task",
    "id": "rmc-05-task-6",
    "meta": {"versionId": "1"},
    "status": "completed",
    "intent": "order",
    "code": {
        "coding": [
            {"system": f"{RMC}/care-steps", "code": "decision-to-treat", "display": "Decision to treat"}
        ]
    },
    "for": {"reference": "Patient/RMC2000005"},
    "authoredOn": "2025-07-12T03:15:00-05:00",
    "lastModified": "2025-07-12T03:15:00-05:00",
    "executionPeriod": {"end": "2025-07-12T03:15:00-05:00"},
    "output": [
        {
            "type": {
                "coding": [{"system": f"{RMC}/treatment-decision", "code": "decision", "display": "Decision"}]
            },
            "valueCodeableConcept": {
                "coding": [
                    {"system": f"{RMC}/treatment-decision", "code": "systemic", "display": "Systemic therapy"}
                ]
            },
        }
    ],
    "note": [{"text": "Breast MDT: change endocrine therapy, start denosumab."}],
}

# rmc-15: spinal surgical opinion
RMC15_OPINION: dict[str, Any] = {
    "resourceType": "Task",
    "id": "rmc-15-task-4",
    "meta": {"versionId": "1"},
    "status": "completed",
    "intent": "order",
    "code": {
        "coding": [
            {
                "system": f"{RMC}/care-steps",
                "code": "spinal-surgical-opinion",
                "display": "Spinal surgical opinion",
            }
        ]
    },
    "for": {"reference": "Patient/RMC2000015"},
    "authoredOn": "2025-10-09T02:45:00-05:00",
    "lastModified": "2025-10-09T02:45:00-05:00",
    "executionPeriod": {"end": "2025-10-09T02:45:00-05:00"},
    "note": [{"text": "Spinal surgery: brace, for posterior stabilisation next list."}],
}


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file for the module: the value sets are loaded once per file (and its modification time)."""
    path = tmp_path_factory.mktemp("site") / "corpus-hospitals.yaml"
    path.write_text(SITE_OVERLAY)
    return path


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher, site_file: Path) -> Iterator[TestClient]:
    with served(publisher, CAREPATH_TERMINOLOGY_SITE=str(site_file)) as c:
        yield c


def post(client: TestClient, body: Any, path: str = "/fhir/Task") -> Any:
    response = client.post(path, content=orjson.dumps(body), headers=HEADERS)
    assert response.headers["content-type"].startswith(FHIR_JSON)
    return response


def outcome(response: Any) -> OperationOutcome:
    return OperationOutcome.model_validate(response.json())


def stored(publisher: MemoryPublisher, topic: str = topics.CLINICAL_EVENTS) -> list[dict[str, Any]]:
    events = [orjson.loads(r.value) for r in publisher.records if r.topic == topic]
    for event in events:
        assert validate_event(event) == [], event
    return events


def dead_letters(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]


def variant(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


# --- each step and outcome, as the corpus sends it ------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "patient", "time", "data"),
    [
        (
            NGH08_REVIEW,
            "NGH1000008",
            "2025-02-11T09:00:00.000Z",
            {"step": "clinician_review", "conclusion": "non_specific_back_pain"},
        ),
        (
            RMC01_DECISION,
            "RMC2000001",
            "2025-03-10T21:30:00.000Z",
            {"step": "decision_to_treat", "decision": "radiotherapy"},
        ),
        (RMC05_SYSTEMIC, "RMC2000005", "2025-07-12T08:15:00.000Z", {"step": "decision_to_treat"}),
        (RMC15_OPINION, "RMC2000015", "2025-10-09T07:45:00.000Z", {"step": "spinal_surgical_opinion"}),
    ],
    ids=["review-non-specific", "decision-radiotherapy", "decision-systemic", "surgical-opinion"],
)
def test_a_corpus_task_is_stored_as_its_care_step(
    client: TestClient,
    publisher: MemoryPublisher,
    resource: dict[str, Any],
    patient: str,
    time: str,
    data: dict[str, Any],
) -> None:
    response = post(client, resource)
    assert response.status_code == 201, response.text
    [event] = stored(publisher)
    assert event["type"] == "carepath.care_step.recorded.v1"
    assert event["id"] == f"Task/{resource['id']}/_history/1"
    assert (event["subject"], event["time"], event["data"]) == (patient, time, data)


def test_a_resent_task_is_a_duplicate(client: TestClient, publisher: MemoryPublisher) -> None:
    assert post(client, RMC15_OPINION).status_code == 201
    again = post(client, RMC15_OPINION)
    assert again.status_code == 200 and "already stored" in outcome(again).issue[0].diagnostics
    assert len(stored(publisher)) == 1


def test_treatment_plan_agreed_is_a_decision_to_treat(client: TestClient, publisher: MemoryPublisher) -> None:
    plan = variant(
        RMC01_DECISION, id="rmc-plan-1", code=concept(f"{RMC}/care-steps", "treatment-plan-agreed")
    )
    plan["output"][0]["valueCodeableConcept"] = concept(f"{RMC}/treatment-decision", "surgery")
    assert post(client, plan).status_code == 201
    assert stored(publisher)[0]["data"] == {"step": "decision_to_treat", "decision": "surgery"}


@pytest.mark.parametrize(
    ("code", "conclusion"),
    [("mscc-excluded", "mscc_excluded"), ("instability-suspected", "instability_suspected")],
)
def test_each_review_outcome_is_a_conclusion(
    client: TestClient, publisher: MemoryPublisher, code: str, conclusion: str
) -> None:
    review = variant(
        NGH08_REVIEW,
        id=f"review-{code}",
        code=concept(f"{RMC}/care-steps", "clinician-review"),
        businessStatus=concept(f"{RMC}/review-outcome", code),
    )
    assert post(client, review).status_code == 201
    assert stored(publisher)[0]["data"] == {"step": "clinician_review", "conclusion": conclusion}


@pytest.mark.parametrize(
    ("step", "data"),
    [
        ("mscc_coordinator_contacted", {"step": "mscc_coordinator_contacted"}),
        ("referral_made", {"step": "referral_made"}),
        ("patient_discharged", {"step": "patient_discharged"}),
        ("spinal_surgical_opinion", {"step": "spinal_surgical_opinion"}),
    ],
)
def test_carepath_own_codes_name_every_step(
    client: TestClient, publisher: MemoryPublisher, step: str, data: dict[str, Any]
) -> None:
    task = variant(RMC15_OPINION, id=f"own-{step.replace('_', '-')}", code=concept(CARE_STEP, step))
    response = post(client, task)
    assert response.status_code == 201, response.text
    assert stored(publisher)[0]["data"] == data


def test_carepath_own_codes_give_the_conclusion_and_the_decision(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    review = variant(
        NGH08_REVIEW,
        id="own-review",
        code=concept(CARE_STEP, "clinician_review"),
        businessStatus=concept(CONCLUSION, "immobilised"),
    )
    decision = variant(RMC01_DECISION, id="own-decision", code=concept(CARE_STEP, "decision_to_treat"))
    decision["output"] = [
        {
            "type": concept(DECISION, "decision"),
            "valueCodeableConcept": concept(DECISION, "best_supportive_care"),
        }
    ]
    assert post(client, review).status_code == 201
    assert post(client, decision).status_code == 201
    assert [e["data"] for e in stored(publisher)] == [
        {"step": "clinician_review", "conclusion": "immobilised"},
        {"step": "decision_to_treat", "decision": "best_supportive_care"},
    ]


def test_the_owner_is_who_did_it(client: TestClient, publisher: MemoryPublisher) -> None:
    task = variant(RMC15_OPINION, id="owned", owner={"display": "  Spinal   surgeon "})
    assert post(client, task).status_code == 201
    assert stored(publisher)[0]["data"] == {"step": "spinal_surgical_opinion", "role": "Spinal surgeon"}


# --- when it happened -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (
            {
                "executionPeriod": {"start": "2025-10-09T01:00:00-05:00", "end": "2025-10-09T02:45:00-05:00"},
                "lastModified": "2025-10-09T04:00:00-05:00",
                "authoredOn": "2025-10-08T20:00:00-05:00",
            },
            "2025-10-09T07:45:00.000Z",
        ),
        (
            {
                "executionPeriod": {"start": "2025-10-09T01:00:00-05:00"},
                "lastModified": "2025-10-09T04:00:00-05:00",
                "authoredOn": "2025-10-08T20:00:00-05:00",
            },
            "2025-10-09T06:00:00.000Z",
        ),
        (
            {"lastModified": "2025-10-09T04:00:00-05:00", "authoredOn": "2025-10-08T20:00:00-05:00"},
            "2025-10-09T09:00:00.000Z",
        ),
        ({"authoredOn": "2025-10-08T20:00:00-05:00"}, "2025-10-09T01:00:00.000Z"),
    ],
    ids=["execution-end", "execution-start", "last-modified", "authored-on"],
)
def test_the_time_is_when_the_step_was_done(
    client: TestClient, publisher: MemoryPublisher, times: dict[str, Any], expected: str
) -> None:
    task = variant(RMC15_OPINION, executionPeriod=None, lastModified=None, authoredOn=None)
    task.update(times)
    assert post(client, task).status_code == 201
    assert stored(publisher)[0]["time"] == expected


def test_a_task_without_any_time_is_refused(client: TestClient, publisher: MemoryPublisher) -> None:
    task = variant(RMC15_OPINION, executionPeriod=None, lastModified=None, authoredOn=None)
    response = post(client, task)
    assert response.status_code == 422
    assert "executionPeriod.end or executionPeriod.start or lastModified or authoredOn" in response.text
    assert stored(publisher) == []


# --- refused, never stored as done ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        "requested",
        "received",
        "accepted",
        "ready",
        "in-progress",
        "on-hold",
        "cancelled",
        "rejected",
        "failed",
    ],
)
def test_a_task_not_completed_is_refused_naming_its_status(
    client: TestClient, publisher: MemoryPublisher, status: str
) -> None:
    response = post(client, variant(RMC01_DECISION, status=status))
    assert response.status_code == 422, response.text
    [issue] = outcome(response).issue
    assert issue.expression == ["Task.status"]
    assert repr(status) in issue.diagnostics and "completed" in issue.diagnostics
    assert stored(publisher) == []
    [letter] = dead_letters(publisher)
    assert letter["channel"] == "fhir"


def test_an_unknown_task_code_is_refused_naming_the_code(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    task = variant(RMC15_OPINION, code=concept(f"{RMC}/care-steps", "physio-referral-booked"))
    response = post(client, task)
    assert response.status_code == 422
    [issue] = outcome(response).issue
    assert issue.code == "code-invalid" and issue.expression == ["Task.code"]
    assert f"{RMC}/care-steps|physio-referral-booked" in issue.diagnostics
    assert stored(publisher) == []


def test_an_unknown_review_outcome_is_refused_naming_it(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    review = variant(NGH08_REVIEW, businessStatus=concept(f"{NGH}/review-outcome", "see-notes"))
    response = post(client, review)
    assert response.status_code == 422
    [issue] = outcome(response).issue
    assert issue.expression == ["Task.businessStatus"] and "see-notes" in issue.diagnostics
    assert stored(publisher) == []


def test_an_unknown_decision_is_refused_naming_it(client: TestClient, publisher: MemoryPublisher) -> None:
    task = copy.deepcopy(RMC01_DECISION)
    task["output"][0]["valueCodeableConcept"] = concept(f"{RMC}/treatment-decision", "watchful-waiting")
    response = post(client, task)
    assert response.status_code == 422
    [issue] = outcome(response).issue
    assert issue.expression == ["Task.output[0].valueCodeableConcept"]
    assert "watchful-waiting" in issue.diagnostics


def test_two_different_decisions_are_refused(client: TestClient, publisher: MemoryPublisher) -> None:
    task = copy.deepcopy(RMC01_DECISION)
    second = copy.deepcopy(task["output"][0])
    second["valueCodeableConcept"] = concept(f"{RMC}/treatment-decision", "surgery")
    task["output"].append(second)
    response = post(client, task)
    assert response.status_code == 422
    assert "stated both radiotherapy and surgery" in response.text
    assert stored(publisher) == []


def test_a_task_for_no_patient_is_refused(client: TestClient, publisher: MemoryPublisher) -> None:
    response = post(client, variant(RMC15_OPINION, **{"for": {"reference": "Group/ward-7"}}))
    assert response.status_code == 422
    assert outcome(response).issue[0].expression == ["Task.for.reference"]
