"""Symptoms over HL7 v2 as nursing and EPR systems send them -> carepath.symptom.recorded.v1.

A symptom assessment is an ORU^R01 whose OBR has no pain score: the finding as an OBX of LOINC 75325-1
"Symptom" (CWE, the SNOMED CT finding in OBX-5 with the clinician's words in CWE-9), or a yes/no finding
row, with its course, severity and body site as rows of the same OBX-4 sub-id. A body temperature is an
OBX of LOINC 8310-5 in a vital-signs order. A symptom may also arrive as a diagnosis (ADT DG1).
"""

from __future__ import annotations

import asyncio
from typing import Any

import hl7
import orjson
import pytest

from carepath import contracts, topics
from intake.hl7.handler import Hl7Intake
from intake.publisher import MemoryPublisher
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit

OBR = (
    "OBR|1||SYM-1|SYMPTOM^Symptom assessment^L|||20240501084500+0100||||||||||||||20240501085000+0100||NUR|F"
)


def send(handler: Hl7Intake, text: str) -> tuple[str, list[str]]:
    reply = asyncio.run(handler.handle(text.encode()))
    ack = hl7.parse(reply.text)
    errors = [str(s(8)) for s in ack if str(s(0)) == "ERR"]
    return str(ack.segment("MSA")(1)), errors


def events(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    out = [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS]
    for event in out:
        assert contracts.validate_event(event) == [], event
    return out


def oru(control_id: str, *rows: str, obr: str = OBR) -> str:
    return samples.SEP.join(
        [samples.msh(control_id, "ORU^R01^ORU_R01", app="EPR"), samples.pid("MRN40"), samples.PV1, obr, *rows]
    )


def test_a_new_finding_with_its_course_and_severity(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    text = oru(
        "SYM-01",
        "OBX|1|CWE|75325-1^Symptom^LN|1|26544005^Muscle weakness^SCT^^^^^^Both legs weak since this morning"
        "||||||F|||20240501084500+0100",
        "OBX|2|CWE|neurological_status^Course^99CP|1|new||||||F",
        "OBX|3|CWE|weakness_severity^Severity^99CP|1|severe||||||F",
    )
    ack, errors = send(handler, text)
    assert (ack, errors) == ("AA", [])
    [event] = events(publisher)
    assert event["type"] == "carepath.symptom.recorded.v1"
    assert event["time"] == "2024-05-01T07:45:00.000Z"
    assert event["data"] == {
        "neurological": ["limb_weakness"],
        "status": "new",
        "weakness_severity": "severe",
    }


def test_numbness_with_a_perineal_site_is_saddle_anaesthesia(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    text = oru(
        "SYM-02",
        "OBX|1|CWE|75325-1^Symptom^LN|1|44077006^Numbness^SCT^^^^^^Numb between the legs||||||F",
        "OBX|2|CWE|pain_site^Body site^99CP|1|38864007^Perineal structure^SCT||||||F",
    )
    ack, errors = send(handler, text)
    assert (ack, errors) == ("AA", [])
    assert [e["data"] for e in events(publisher)] == [{"neurological": ["saddle_anaesthesia"]}]


def test_each_sub_id_is_its_own_finding(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    text = oru(
        "SYM-03",
        "OBX|1|CWE|75325-1^Symptom^LN|1|267064002^Retention of urine^SCT||||||F",
        "OBX|2|CWE|neurological_status^Course^99CP|1|new||||||F",
        "OBX|3|CWE|75325-1^Symptom^LN|2|422400008^Vomiting^SCT||||||F",
        "OBX|4|CWE|neurological_status^Course^99CP|2|stable||||||F",
    )
    ack, _ = send(handler, text)
    assert ack == "AA"
    assert [e["data"] for e in events(publisher)] == [
        {"neurological": ["bladder_dysfunction"], "status": "new"},
        {"systemic": ["vomiting"], "status": "stable"},
    ]


def test_an_unknown_finding_is_ae_naming_it(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    text = oru("SYM-04", "OBX|1|CWE|75325-1^Symptom^LN|1|25064002^Headache^SCT||||||F")
    ack, errors = send(handler, text)
    assert ack == "AE"
    assert "25064002 (SCT)" in errors[0]
    assert events(publisher) == []


def test_a_pain_row_without_a_score_is_still_ae(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    text = oru("SYM-05", "OBX|1|CWE|pain_site^Pain site^99CP||122496007^Lumbar spine structure^SCT||||||F")
    ack, errors = send(handler, text)
    assert ack == "AE"
    assert "without a pain score" in errors[0]


VITALS = "OBR|1||VS-1|VITALS^Vital signs^L|||20240501084000+0100||||||||||||||20240501084000+0100||NUR|F"


@pytest.mark.parametrize(("value", "unit", "expected"), [("38.6", "Cel", "Cel"), ("101.5", "degF", "[degF]")])
def test_a_body_temperature(
    handler: Hl7Intake, publisher: MemoryPublisher, value: str, unit: str, expected: str
) -> None:
    text = oru(
        "VS-01",
        f"OBX|1|NM|8310-5^Body temperature^LN||{value}|{unit}^{unit}^UCUM|||||F|||20240501084000+0100",
        obr=VITALS,
    )
    ack, errors = send(handler, text)
    assert (ack, errors) == ("AA", [])
    [event] = events(publisher)
    assert event["data"] == {"temperature": {"value": float(value), "unit": expected}}


def test_a_temperature_in_an_unknown_unit_is_ae(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    text = oru("VS-02", "OBX|1|NM|8310-5^Body temperature^LN||311|K^kelvin^UCUM|||||F", obr=VITALS)
    ack, errors = send(handler, text)
    assert ack == "AE"
    assert "OBX-6" in errors[0]
    assert events(publisher) == []


def test_urinary_retention_as_a_diagnosis(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    text = samples.SEP.join(
        [
            samples.msh("ADT-40", "ADT^A08^ADT_A01", app="EPR", version="2.4"),
            "EVN|A08|20240501081500",
            samples.pid("MRN41"),
            samples.PV1,
            "DG1|1||267064002^Retention of urine^SCT|Retention of urine|20240501081500|W",
        ]
    )
    ack, errors = send(handler, text)
    assert (ack, errors) == ("AA", [])
    symptoms = [e for e in events(publisher) if e["type"] == "carepath.symptom.recorded.v1"]
    assert [e["data"] for e in symptoms] == [{"neurological": ["bladder_dysfunction"]}]


def test_a_site_carepath_does_not_know_is_a_warning_and_the_symptom_is_read(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    # SNOMED CT 69536005 Head structure: neither the spine, the saddle area nor a limb
    text = oru(
        "SYM-09",
        "OBX|1|CWE|75325-1^Symptom^LN|1|44077006^Numbness^SCT^^^^^^Numb down the left leg||||||F",
        "OBX|2|CWE|pain_site^Body site^99CP|1|69536005^Head structure^SCT||||||F",
    )
    reply = asyncio.run(handler.handle(text.encode()))
    ack = hl7.parse(reply.text)
    assert str(ack.segment("MSA")(1)) == "AA"
    [err] = [s for s in ack if str(s(0)) == "ERR"]
    assert str(err(4)) == "W"
    assert "OBX[2]-5" in str(err(8)) and "read without it" in str(err(8))
    assert [e["data"] for e in events(publisher)] == [{"neurological": ["sensory_loss"]}]


def test_a_limb_is_a_known_site_outside_the_spine_read_without_a_warning(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    # SNOMED CT 61685007 Lower limb structure: where the numbness is, which no rule reads
    text = oru(
        "SYM-10",
        "OBX|1|CWE|75325-1^Symptom^LN|1|44077006^Numbness^SCT^^^^^^Numb down the left leg||||||F",
        "OBX|2|CWE|pain_site^Body site^99CP|1|61685007^Lower limb structure^SCT||||||F",
    )
    reply = asyncio.run(handler.handle(text.encode()))
    ack = hl7.parse(reply.text)
    assert str(ack.segment("MSA")(1)) == "AA"
    assert [s for s in ack if str(s(0)) == "ERR"] == []
    assert [e["data"] for e in events(publisher)] == [{"neurological": ["sensory_loss"]}]


def test_a_finding_sent_as_the_observation_identifier_is_read_as_present(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    # OBX-3 is the finding itself, OBX-5 a yes/no answer (HL7 table 0136): as its FHIR form, an Observation
    # whose code is the finding (tests/unit/fhir/test_symptoms.py), is read
    text = oru("SYM-11", "OBX|1|CWE|26544005^Muscle weakness^SCT||Y^Yes^HL70136||||||F")
    reply = asyncio.run(handler.handle(text.encode()))
    assert str(hl7.parse(reply.text).segment("MSA")(1)) == "AA"
    assert [e["data"] for e in events(publisher)] == [{"neurological": ["limb_weakness"]}]
