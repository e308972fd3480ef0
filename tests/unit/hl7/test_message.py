"""Reading HL7 v2 messages: versions 2.3 to 2.5.1, \\r, \\n and \\r\\n separators, escapes, character sets."""

from __future__ import annotations

import pytest

from intake.hl7.message import MessageError, parse_message, sniff_header
from intake.hl7.problems import SEGMENT_SEQUENCE, UNSUPPORTED_MESSAGE_TYPE
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_segment_separators_are_normalised(separator: str) -> None:
    text = samples.oru_pain("P-1", "MRN1").replace("\r", separator)
    message = parse_message(text.encode())
    assert [s.id for s in message.segments] == ["MSH", "PID", "PV1", "OBR", "OBX", "OBX", "OBX", "OBX", "OBX"]
    score = message.first("OBX")
    assert score is not None and score.value(5) == "8"


def test_header_of_a_v251_message() -> None:
    header = parse_message(samples.oru_radiology("RIS000123", "MRN1").encode()).header
    assert header.type_key == "ORU^R01"
    assert header.structure == "ORU_R01"
    assert header.control_id == "RIS000123"
    assert header.version == "2.5.1"
    assert header.sending_application == "RIS"
    assert header.sending_facility == "RLH"  # HD namespace id, not the OID
    assert header.charset == "UNICODE UTF-8"
    assert header.encoding == "utf-8"


def test_a_v23_message_with_a_two_part_message_type() -> None:
    text = "\r".join(
        [
            "MSH|^~\\&|PAS|RLH|CAREPATH|RLH|200405011000||ADT^A08|PAS0099|P|2.3",
            "EVN|A08|200405011000",
            "PID|1|9434765919|MRN77^^^RLH||BLOGGS^FRED||19400101|M",
            "DG1|1|I10|C61^Malignant neoplasm of prostate^I10",
        ]
    )
    message = parse_message(text.encode())
    assert message.header.type_key == "ADT^A08"
    assert message.header.structure == ""
    assert message.header.version == "2.3"
    pid = message.first("PID")
    assert pid is not None and pid.value(3) == "MRN77" and pid.value(3, 4) == "RLH"


def test_fields_components_repetitions_and_occurrence_numbers() -> None:
    message = parse_message(samples.oru_labs("L-1", "MRN9").encode())
    pid = message.first("PID")
    assert pid is not None
    assert (pid.value(3, 1, 1), pid.value(3, 4, 1)) == ("MRN9", "RLH")
    assert (pid.value(3, 1, 2), pid.value(3, 4, 2), pid.value(3, 5, 2)) == ("9434765919", "NHS", "NH")
    obx = message.all("OBX")
    assert [o.sequence for o in obx] == [1, 2, 3, 4, 5, 6]  # numbered across OBR groups, as ERR-2 counts them
    coded = obx[0].coded(3)
    assert coded is not None and (coded.code, coded.text, coded.system) == ("2000-8", "Calcium", "LN")
    assert obx[0].value(99) == "" and obx[0].value(3, 9) == ""  # absent fields read as empty


def test_escape_sequences_are_resolved() -> None:
    text = samples.oru_radiology(
        "E-1",
        "MRN1",
        lines=["Cord compression \\T\\ epidural disease at T4\\F\\T5", "Line\\.br\\break \\X41\\"],
    )
    obx = parse_message(text.encode()).first("OBX")
    assert obx is not None
    assert obx.text(5) == "Cord compression & epidural disease at T4|T5\nLine\nbreak A"


def test_raw_newlines_inside_a_report_are_joined_to_their_segment() -> None:
    """Some senders put raw line breaks in OBX-5; with \\n normalised they would look like segments."""
    text = samples.oru_radiology(
        "N-1", "MRN1", lines=["Findings: compression of the cord at T10.\nNo fracture."]
    )
    message = parse_message(text.replace("\r", "\r\n").encode())
    obx = message.first("OBX")
    assert obx is not None
    assert obx.text(5) == "Findings: compression of the cord at T10.\nNo fracture."
    assert obx.value(11) == "F"  # the fields after the report are still in place


def test_latin1_message_named_in_msh18_is_decoded() -> None:
    text = samples.oru_pain("C-1", "MRN1").replace("UNICODE UTF-8", "8859/1").replace("SMITH", "SM\u00cfTH")
    message = parse_message(text.encode("latin-1"))
    assert message.header.encoding == "latin-1"
    pid = message.first("PID")
    assert pid is not None and pid.value(5) == "SM\u00cfTH"


def test_undeclared_non_utf8_bytes_fall_back_to_latin1() -> None:
    text = samples.oru_pain("C-2", "MRN1").replace("|UNICODE UTF-8", "").replace("JANE", "J\u00c9N")
    assert parse_message(text.encode("latin-1")).header.encoding == "latin-1"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"hello world", 101),
        (b"PID|1||MRN1\rMSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1", SEGMENT_SEQUENCE),
        (b"FHS|^~\\&|A\rBHS|^~\\&|A\rMSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1", UNSUPPORTED_MESSAGE_TYPE),
    ],
)
def test_what_is_not_one_hl7_message_is_refused_with_a_reason(raw: bytes, code: int) -> None:
    with pytest.raises(MessageError) as caught:
        parse_message(raw)
    assert caught.value.code == code
    assert caught.value.message


def test_header_can_be_sniffed_from_the_start_of_a_message() -> None:
    head = samples.oru_radiology("BIG-1", "MRN1").encode()[:200]
    header = sniff_header(head)
    assert header is not None and header.control_id == "BIG-1" and header.version == "2.5.1"
    assert sniff_header(b"not hl7") is None
