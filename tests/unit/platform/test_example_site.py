"""The example site overlay (deploy/sites/example/terminology.yaml): two hospitals' local codes - pain
flowsheet rows, symptom-assessment rows and answers, SINS, care steps, review outcomes, treatment decisions,
communication kinds, a local procedure, a formulary - read over both channels as those hospitals send them.

The messages are written out as the senders write them: a FHIR code system per local table
(``https://fhir.<hospital>.example/CodeSystem/<table>``) and one HL7 v2 local coding system per sender
(``99NGH``, ``99RMC``, table 0396 form).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import orjson
import pytest

from carepath import contracts, terminology, topics
from carepath.resources import pathways_dir
from intake.fhir.codemap import load_code_map
from intake.fhir.context import Context
from intake.fhir.issues import FhirError
from intake.fhir.resources import map_resource
from intake.hl7.codes import load_codes
from intake.hl7.handler import Hl7Intake
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology_rules import load_rules
from intake.publisher import MemoryPublisher
from intake.service import Intake

pytestmark = pytest.mark.unit

SITE_FILE = Path(__file__).resolve().parents[3] / "deploy" / "sites" / "example" / "terminology.yaml"
NGH = "https://fhir.northgate-hospital.example/CodeSystem"
RMC = "https://fhir.riverbend-medical.example/CodeSystem"
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"


class SentThen:
    """The intake clock a minute after the HL7 message below was sent."""

    def now(self) -> datetime:
        return datetime(2025, 6, 2, 8, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def term() -> terminology.Terminology:
    return terminology.load(pathways_dir() / "mscc" / "terminology", [SITE_FILE])


def cc(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


@pytest.mark.parametrize(
    ("system", "code", "value_set"),
    [
        (f"{NGH}/pain-flowsheet", "night-pain", "finding.night_pain"),
        (f"{RMC}/pain-flowsheet", "worse-on-straining", "assessment.worse_on_straining"),
        ("99NGH", "PAINTENDER", "finding.spinal_tenderness"),
        ("99RMC", "PAINNEW", "assessment.new_episode"),
        ("99RMC", "SYMPROG", "assessment.symptom_progression"),
        ("99NGH", "WORSENING", "status.worsening"),
        (f"{RMC}/spine-scores", "SINS", "observation.sins"),
        (f"{NGH}/care-steps", "treatment-plan-agreed", "care.decision_to_treat"),
        (f"{RMC}/review-outcome", "mscc-excluded", "review.mscc_excluded"),
        (f"{NGH}/communication-kind", "override", "care.acknowledgement_override"),
        (f"{NGH}/formulary", "NGHF0412", "medicine.dexamethasone"),
        ("99NGH", "NGHF1047", "medicine.strong_opioid"),
        (f"{NGH}/procedures", "SPDECOMP01", "procedure.spinal_surgery"),
    ],
)
def test_each_local_code_is_a_member_of_its_concept(
    term: terminology.Terminology, system: str, code: str, value_set: str
) -> None:
    assert term.is_member(value_set, system, code)


def test_the_two_hospitals_codes_stay_apart(term: terminology.Terminology) -> None:
    # Riverbend has no formulary: a Northgate formulary code sent under 99RMC means nothing
    assert not term.is_member("medicine.dexamethasone", "99RMC", "NGHF0412")
    assert term.lookup("99NGH", "PAINNIGHT") and not term.lookup(f"{NGH}/pain-flowsheet", "PAINNIGHT")


def test_the_site_file_passes_the_check_a_hospital_runs_before_go_live() -> None:
    assert terminology.main(["--site", str(SITE_FILE), "check"]) == 0


def test_a_northgate_pain_assessment_over_fhir(term: terminology.Terminology) -> None:
    flowsheet = f"{NGH}/pain-flowsheet"
    resource = {
        "resourceType": "Observation",
        "id": "pain-ngh-1",
        "status": "final",
        "code": cc(LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
        "subject": {"reference": "Patient/NGH1000001"},
        "effectiveDateTime": "2025-06-02T09:15:00+01:00",
        "valueInteger": 7,
        "bodySite": cc(SCT, "122495006", "Thoracic spine structure"),
        "component": [
            {"code": cc(flowsheet, "onset", "Pain onset date"), "valueDateTime": "2025-05-28"},
            {"code": cc(flowsheet, "new-episode", "New episode of pain"), "valueBoolean": True},
            {"code": cc(flowsheet, "night-pain", "Night pain disturbing sleep"), "valueBoolean": True},
            {"code": cc(flowsheet, "worse-on-straining", "Worse on straining"), "valueBoolean": True},
            {"code": cc(flowsheet, "mechanical", "Mechanical pain"), "valueBoolean": False},
        ],
    }
    mapped = map_resource(resource, Context(load_code_map(term=term)))
    assert not mapped.unread
    event = mapped.event
    assert contracts.validate_event(event) == []
    assert event["data"] == {
        "nrs": 7,
        "site": ["thoracic"],
        "onset": "2025-05-28T00:00:00.000Z",
        "new_episode": True,
        "character": ["night_pain", "worse_on_straining"],
    }


def test_a_riverbend_clinician_review_task_over_fhir(term: terminology.Terminology) -> None:
    resource = {
        "resourceType": "Task",
        "id": "task-rmc-1",
        "status": "completed",
        "intent": "order",
        "code": cc(f"{RMC}/care-steps", "clinician-review", "Clinician review"),
        "businessStatus": cc(f"{RMC}/review-outcome", "mscc-excluded", "MSCC excluded"),
        "for": {"reference": "Patient/RMC2000001"},
        "executionPeriod": {"end": "2025-03-12T14:00:00-05:00"},
        "lastModified": "2025-03-12T14:00:00-05:00",
    }
    event = map_resource(resource, Context(load_code_map(term=term))).event
    assert contracts.validate_event(event) == []
    assert event["data"]["step"] == "clinician_review"
    assert event["data"]["conclusion"] == "mscc_excluded"


def test_a_northgate_pain_oru_over_hl7(term: terminology.Terminology) -> None:
    """HL7 v2.4 as the trust's EPR sends it: local time without an offset, flowsheet rows in 99NGH."""
    message = "\r".join(
        [
            "MSH|^~\\&|NGH_EPR|NORTHGATE|CAREPATH|CAREPATH|20250602091500||ORU^R01^ORU_R01|NGH-77|P|2.4"
            "|||AL|NE|GBR",
            "PID|1||NGH1000001^^^NGH^MR~9990001234^^^NHS^NH||DOE^JAN||19580314|F",
            "OBR|1||pain-77|PAINASSESS^Pain assessment^99NGH|||20250602091500|||||||||||||||20250602091500"
            "||NUR|F",
            "OBX|1|NM|72514-3^Pain severity 0-10 NRS^LN||7|{score}^{score}^UCUM|0-10||||F|||20250602091500",
            "OBX|2|CWE|38204-4^Pain primary location^LN||122495006^Thoracic spine structure^SCT^^^^^^thoracic"
            " spine||||||F|||20250602091500",
            "OBX|3|DT|PAINONSET^Pain onset date^99NGH||20250528||||||F|||20250602091500",
            "OBX|4|CWE|PAINNEW^New episode of pain^99NGH||Y^Yes^HL70136||||||F|||20250602091500",
            "OBX|5|CWE|PAINNIGHT^Night pain disturbing sleep^99NGH||Y^Yes^HL70136||||||F|||20250602091500",
            "OBX|6|CWE|PAINTENDER^Spinal tenderness on palpation^99NGH||N^No^HL70136||||||F|||20250602091500",
            "NTE|1|L|Pain worse lying flat.",
        ]
    )
    publisher = MemoryPublisher()
    intake = Intake(publisher, SentThen(), future_tolerance_s=300, dedup_capacity=100)
    options = MappingOptions(ZoneInfo("Europe/London"), ("NGH",))
    handler = Hl7Intake(intake, load_codes([], term), load_rules(), options, SentThen())
    reply = hl7.parse(asyncio.run(handler.handle(message.encode())).text)
    assert str(reply.segment("MSA")(1)) == "AA", reply
    [event] = [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS]
    assert contracts.validate_event(event) == []
    assert event["subject"] == "NGH1000001"
    assert event["time"] == "2025-06-02T08:15:00.000Z"  # British Summer Time
    assert event["data"] == {
        "nrs": 7,
        "site": ["thoracic"],
        "onset": "2025-05-27T23:00:00.000Z",  # the day began at midnight in London
        "new_episode": True,
        "character": ["night_pain"],
    }


def hl7_channel(term: terminology.Terminology, publisher: MemoryPublisher, zone: str) -> Hl7Intake:
    intake = Intake(publisher, SentThen(), future_tolerance_s=300, dedup_capacity=100)
    options = MappingOptions(ZoneInfo(zone), ("NGH", "RMC"))
    return Hl7Intake(intake, load_codes([], term), load_rules(), options, SentThen())


def test_a_sins_scored_on_its_own_over_both_channels(term: terminology.Terminology) -> None:
    """No LOINC code exists for SINS: the site's code, the score 0-18, the breakdown as a note."""
    breakdown = "Junctional 3, mechanical pain 3, lytic 2, subluxation 4, collapse 2, posterolateral 0"
    resource = {
        "resourceType": "Observation",
        "id": "sins-rmc-1",
        "status": "final",
        "code": cc(f"{RMC}/spine-scores", "SINS", "Spinal Instability Neoplastic Score"),
        "subject": {"reference": "Patient/RMC2000005"},
        "effectiveDateTime": "2025-06-02T03:10:00-05:00",
        "valueInteger": 14,
        "note": [{"text": breakdown}],
    }
    event = map_resource(resource, Context(load_code_map(term=term))).event
    assert contracts.validate_event(event) == []
    assert event["data"] == {"report_status": "final", "sins_score": 14, "impression": breakdown}
    resource["valueInteger"] = 19
    with pytest.raises(FhirError, match="SINS 19 is not 0-18"):
        map_resource(resource, Context(load_code_map(term=term)))

    message = "\r".join(
        [
            "MSH|^~\\&|RMC_EHR|RIVERBEND|CAREPATH|CAREPATH|20250602031000-0500||ORU^R01^ORU_R01|RMC-SINS-1|P"
            "|2.5.1|||AL|NE|USA",
            "PID|1||RMC2000005^^^RMC^MR||ROE^SAM||19600101|M",
            "OBR|1||sins-rmc-1|SINS^Spinal Instability Neoplastic Score^99RMC|||20250602031000-0500"
            "|||||||||||||||20250602031000-0500||RAD|F",
            "OBX|1|NM|SINS^Spinal Instability Neoplastic Score^99RMC||14|{score}^{score}^UCUM|0-18||||F|||"
            "20250602031000-0500",
            f"NTE|1|L|{breakdown}",
        ]
    )
    publisher = MemoryPublisher()
    reply = hl7.parse(
        asyncio.run(hl7_channel(term, publisher, "America/Chicago").handle(message.encode())).text
    )
    assert str(reply.segment("MSA")(1)) == "AA", reply
    [sent] = [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS]
    assert contracts.validate_event(sent) == []
    assert sent["time"] == "2025-06-02T08:10:00.000Z"
    assert sent["data"] == {"report_status": "final", "sins_score": 14, "impression": breakdown}
