"""Never AA for clinical content carepath did not read: an unknown code on a clinically relevant row is AE
(ERR 103 naming segment, field and code) and the message is dead-lettered, while what was read is still
stored; a message of a supported type from which nothing was read is AE; administrative segments carepath
does not read are no error; codes a site lists under ``ignore`` are read and deliberately not used."""

from __future__ import annotations

import asyncio
from typing import Any

import hl7
import orjson
import pytest

from carepath import contracts, topics
from intake.hl7.codes import CodeMap
from intake.hl7.handler import Hl7Intake, Reply
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology import RadiologyRules
from intake.publisher import MemoryPublisher
from intake.service import Intake
from tests.unit.hl7 import samples
from tests.unit.hl7.samples import FixedClock

pytestmark = pytest.mark.unit


def send(handler: Hl7Intake, text: str) -> tuple[Reply, Any]:
    reply = asyncio.run(handler.handle(text.encode()))
    return reply, hl7.parse(reply.text)


def stored(publisher: MemoryPublisher, topic: str = topics.CLINICAL_EVENTS) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topic]


def errs(ack: Any) -> list[tuple[str, str, str]]:
    """(ERR-2 location, ERR-3 code, ERR-8 text) of each ERR segment."""
    return [(str(e(2)), str(e(3)(1)(1)), str(e(8))) for e in ack.segments("ERR")]


# -- an unknown code on a clinically relevant row --------------------------------------------------------

PAIN = samples.oru_pain("EPR-10", "MRN10")
UNKNOWN_CODES = [
    # (message, ERR-2 of the row, code as it must be named, events still stored)
    pytest.param(
        PAIN.replace("limb_weakness^Limb weakness^99CP", "limb_weaknes^Limb weakness^99CP"),
        "OBX^2^3",
        "limb_weaknes (99CP)",
        1,
        id="OBX-3 mistyped code",
    ),
    pytest.param(
        PAIN.replace("limb_weakness^Limb weakness^99CP", "limb_weakness^Limb weakness^99XX"),
        "OBX^2^3",
        "limb_weakness (99XX)",
        1,
        id="OBX-3 unknown coding system",
    ),
    pytest.param(
        PAIN.replace("limb_weakness^Limb weakness^99CP", "^Limb weakness"),
        "OBX^2^3",
        "no code",
        1,
        id="OBX-3 text without a code",
    ),
    pytest.param(
        samples.oru_labs("LAB-10", "MRN10").replace("2000-8^Calcium^LN", "2000-9^Calcium^LN"),
        "OBX^1^3",
        "2000-9 (LN)",
        4,
        id="lab OBX-3 mistyped",
    ),
    pytest.param(
        samples.rde_o11("RX-10", "MRN10").replace("DEXA8^Dexamethasone 8mg tablets^L", "8AXED^^L"),
        "RXE^1^2",
        "8AXED (L)",
        0,
        id="RXE-2 flipped drug code",
    ),
    pytest.param(
        samples.ras_o17("RX-11", "MRN10").replace(
            "MORPH10^Morphine sulfate 10mg/5mL oral solution^L", "01HPROM^^L"
        ),
        "RXA^1^5",
        "01HPROM (L)",
        0,
        id="RXA-5 flipped drug code",
    ),
    pytest.param(
        samples.ppr_problems("PPR-10", "MRN10").replace("C50.9^Malignant", "C5O.9^Malignant"),
        "PRB^1^3",
        "C5O.9 (I10)",
        2,  # the secondary is recorded with an unknown primary, and the risk factor
        id="PRB-3 mistyped cancer code",
    ),
    pytest.param(
        samples.adt_a08("PAS-10", "MRN10").replace(
            "C61^Malignant neoplasm of prostate^I10", "C61^Malignant neoplasm of prostate^99XYZ"
        ),
        "DG1^1^3",
        "C61 (99XYZ)",
        3,
        id="DG1-3 cancer code in a coding system carepath does not know",
    ),
    pytest.param(
        samples.adt_a08("PAS-11", "MRN10").replace(
            "X65.4^Delivery of fraction of external beam radiotherapy NEC^OPCS4|"
            "Palliative radiotherapy to thoracic spine",
            "X56.4^^OPCS4|",
        ),
        "PR1^1^3",
        "X56.4 (OPCS4)",
        2,
        id="PR1-3 unknown procedure code",
    ),
]


@pytest.mark.parametrize(("text", "where", "code", "kept"), UNKNOWN_CODES)
def test_an_unknown_code_on_a_clinical_row_is_ae_naming_it_and_the_message_is_dead_lettered(
    handler: Hl7Intake, publisher: MemoryPublisher, text: str, where: str, code: str, kept: int
) -> None:
    reply, ack = send(handler, text)
    assert reply.ack == "AE"
    [(_location, err_code, err_text)] = [e for e in errs(ack) if e[0] == where]
    assert code in err_text
    assert err_code == ("101" if code == "no code" else "103")
    assert len(stored(publisher)) == kept  # the parts that were read are stored
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert letter["raw"] == text and contracts.validate_dlq_record(letter) == []
    assert any(e["field"] == "/" + where.replace("^", "[", 1).replace("^", "]/", 1) for e in letter["errors"])


def test_the_red_flag_of_a_pain_assessment_is_never_lost_behind_an_aa(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    """The score is stored without the mistyped limb weakness: the sender must hear that it was not read."""
    text = PAIN.replace("limb_weakness^Limb weakness^99CP", "limb_weaknes^Limb weakness^99CP")
    reply, _ = send(handler, text)
    [event] = stored(publisher)
    assert "limb_weakness" not in event["data"]["neurological"]
    assert reply.ack == "AE"


def test_an_unknown_order_control_is_ae(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    reply, ack = send(handler, samples.rde_o11("RX-12", "MRN10", order_control="ZZ"))
    assert reply.ack == "AE"
    assert errs(ack)[0][:2] == ("ORC^1^1", "103")
    assert stored(publisher) == []


def test_notes_under_an_order_carepath_cannot_place_are_ae(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    """A report sent as NTE lines under an OBR whose study code is unknown would otherwise vanish."""
    text = "\r".join(
        [
            samples.msh("RIS-12", "ORU^R01^ORU_R01"),
            samples.pid("MRN10"),
            "OBR|1|ORD1|ACC1|ZZSPINE^Spine study^L|||20240501080500+0100||||||||||||||20240501092800+0100|||F",
            "NTE|1||Epidural tumour at T10 compresses the cord.",
        ]
    )
    reply, ack = send(handler, text)
    assert reply.ack == "AE"
    assert errs(ack)[0][:2] == ("OBR^1^4", "103") and "ZZSPINE (L)" in errs(ack)[0][2]


# -- nothing read at all ---------------------------------------------------------------------------------


def _cut(text: str, keep: int) -> str:
    return "\r".join(text.split("\r")[:keep])


@pytest.mark.parametrize(
    ("text", "segment"),
    [
        pytest.param(_cut(samples.oru_radiology("RIS-13", "MRN10"), 3), "OBX", id="ORU cut after PV1"),
        pytest.param(_cut(samples.oru_pain("EPR-13", "MRN10"), 4), "OBX", id="ORU cut after OBR"),
        pytest.param(_cut(samples.rde_o11("RX-13", "MRN10"), 4), "RXE", id="RDE without RXE"),
        pytest.param(_cut(samples.ras_o17("RX-14", "MRN10"), 4), "RXA", id="RAS without RXA"),
        pytest.param(_cut(samples.ppr_problems("PPR-13", "MRN10"), 3), "PRB", id="PPR without PRB"),
        pytest.param(
            _cut(samples.adt_a08("PAS-13", "MRN10"), 4).replace("|19480722|", "||"),
            "DG1",
            id="ADT without date of birth, diagnosis or procedure",
        ),
    ],
)
def test_a_supported_message_from_which_nothing_was_read_is_ae(
    handler: Hl7Intake, publisher: MemoryPublisher, text: str, segment: str
) -> None:
    reply, ack = send(handler, text)
    assert reply.ack == "AE"
    [(location, code, err_text)] = errs(ack)
    assert location.startswith(segment) and code == "101" and "nothing in this" in err_text
    assert stored(publisher) == [] and len(stored(publisher, topics.CLINICAL_EVENTS_DLQ)) == 1


def test_read_and_deliberately_unused_is_aa(handler: Hl7Intake, publisher: MemoryPublisher) -> None:
    """Nothing published, yet everything was read: medicines not given, a result not yet available."""
    ras = samples.ras_o17("RX-15", "MRN10").replace("|CP", "|RE")  # both administrations refused
    assert send(handler, ras)[0].ack == "AA"
    pending = samples.oru_radiology("RIS-15", "MRN10", status="I", lines=[])
    assert send(handler, pending)[0].ack == "AA"
    assert stored(publisher) == []


# -- administrative segments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segment",
    [
        "ZXX|1|local thing^^L",
        "NK1|1|SMITH^JOHN|SPO^Spouse^HL70063",
        "PV2|||^Back pain",
        "IN1|1|NHS^NHS|NHS",
        "AL1|1|DA|PENICILLIN^Penicillin^L",
    ],
)
def test_administrative_segments_carepath_does_not_read_are_no_error(
    handler: Hl7Intake, publisher: MemoryPublisher, segment: str
) -> None:
    lines = PAIN.split("\r")
    text = "\r".join([*lines[:3], segment, *lines[3:]])
    reply, _ = send(handler, text)
    assert reply.ack == "AA" and len(stored(publisher)) == 1


def test_the_shipped_mapping_alone_answers_ae_for_a_code_a_site_would_ignore(
    publisher: MemoryPublisher, codes: CodeMap, rules: RadiologyRules, options: MappingOptions
) -> None:
    """Potassium is no carepath test: without the site's ``ignore`` entry it is an unknown code."""
    intake = Intake(publisher, FixedClock(), future_tolerance_s=300, dedup_capacity=1000)
    shipped = Hl7Intake(intake, codes, rules, options, FixedClock())
    reply, ack = send(shipped, samples.oru_labs("LAB-16", "MRN10"))
    assert reply.ack == "AE"
    assert [e[:2] for e in errs(ack)] == [("OBX^4^3", "103")]
    assert "ignore.observations" in errs(ack)[0][2]
    assert len(stored(publisher)) == 5
