"""One frame is one message, one message is one patient, and a declared character set is binding: what
breaks any of these is refused whole (AE, dead-lettered as received), never merged or guessed at. What is
logged of a message is checked and bounded, so no log line carries patient data."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import hl7
import orjson
import pytest

from carepath import topics
from intake.hl7 import handler as handler_module
from intake.hl7.framing import FramingError
from intake.hl7.handler import Hl7Intake, Reply
from intake.hl7.mapping import MappingResult, map_message
from intake.hl7.message import parse_message, read_header, sniff_header
from intake.publisher import MemoryPublisher
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit


class Recorder:
    """Stands in for the structlog logger: every call kept as a dict."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **fields: Any) -> None:
            self.lines.append({"level": level, "event": event, **fields})

        return log


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(handler_module, "_log", recorder)
    return recorder


def send(handler: Hl7Intake, raw: str | bytes) -> tuple[Reply, Any]:
    reply = asyncio.run(handler.handle(raw.encode() if isinstance(raw, str) else raw))
    return reply, hl7.parse(reply.text)


def stored(publisher: MemoryPublisher, topic: str = topics.CLINICAL_EVENTS) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == topic]


def msa(ack: Any) -> tuple[str, str]:
    return str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))


# -- message boundaries ----------------------------------------------------------------------------------


def _second_messages() -> list[Any]:
    first = samples.oru_pain("EPR-20", "MRN20")
    other = samples.oru_radiology("RIS-21", "MRN21")  # another patient's MRI report
    return [
        pytest.param(first + "\r" + other, id="CR"),
        pytest.param((first + "\r" + other).replace("\r", "\n"), id="LF"),
        pytest.param((first + "\r" + other).replace("\r", "\r\n"), id="CRLF"),
        pytest.param(first + "\r\r" + other + "\r", id="blank line between"),
        pytest.param(first + "\r" + samples.oru_pain("EPR-22", "MRN20"), id="same patient"),
        pytest.param(
            first + "\r" + other.replace("MSH|^~\\&|", "MSH#^~\\&#").replace("|", "#"), id="other delimiters"
        ),
        pytest.param(first + "\r" + samples.adt_a08("PAS-23", "MRN21"), id="another message type"),
    ]


@pytest.mark.parametrize("frame", _second_messages())
def test_a_frame_holding_two_messages_is_refused_whole_and_nothing_is_stored(
    handler: Hl7Intake, publisher: MemoryPublisher, frame: str
) -> None:
    _reply, ack = send(handler, frame)
    assert msa(ack) == ("AE", "EPR-20")  # one ACK for the one frame, naming its first MSH-10
    err = ack.segment("ERR")
    assert str(err(2)) == "MSH^2" and str(err(3)(1)(1)) == "100"
    assert "more than one message" in str(err(8))
    assert stored(publisher) == []  # neither message: the second is never filed under the first's patient
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert letter["raw"] == frame


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("BHS|^~\\&|LAB\r" + samples.oru_labs("LAB-20", "MRN20") + "\rBTS|1", id="BHS first"),
        pytest.param(samples.oru_labs("LAB-21", "MRN20") + "\rBTS|1", id="BTS after the message"),
        pytest.param(samples.oru_labs("LAB-22", "MRN20") + "\rFHS|^~\\&|LAB", id="FHS after the message"),
    ],
)
def test_batch_segments_anywhere_refuse_the_frame(
    handler: Hl7Intake, publisher: MemoryPublisher, frame: str
) -> None:
    reply, _ = send(handler, frame)
    assert reply.ack == "AE" and stored(publisher) == []


def test_a_message_about_two_patients_is_refused_whole(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    """An ORU_R01 may repeat its PATIENT_RESULT group; whose result is whose is not carepath's to guess."""
    pain = samples.oru_pain("EPR-24", "MRN24").split("\r")
    other = samples.oru_radiology("x", "MRN25").split("\r")[1:]  # PID, PV1, ORC, OBR, OBX of another patient
    _reply, ack = send(handler, "\r".join([*pain, *other]))
    assert msa(ack) == ("AE", "EPR-24")
    assert str(ack.segment("ERR")(2)) == "PID^2" and "2 PID segments" in str(ack.segment("ERR")(8))
    assert stored(publisher) == []
    assert len(stored(publisher, topics.CLINICAL_EVENTS_DLQ)) == 1


@pytest.mark.parametrize("which", ["one", "all"])
def test_an_event_that_names_another_patient_is_refused_not_published(
    handler: Hl7Intake, publisher: MemoryPublisher, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    """Whatever a mapper does, nothing is published under a patient other than the message's own PID-3."""

    def faulty(*args: Any, **kwargs: Any) -> MappingResult:
        result = map_message(*args, **kwargs)
        for mapped in result.events if which == "all" else result.events[:1]:
            mapped.event["subject"] = "MRN-SOMEONE-ELSE"
        return result

    monkeypatch.setattr(handler_module, "map_message", faulty)
    reply, ack = send(handler, samples.oru_labs("LAB-25", "MRN25"))
    assert reply.ack == "AE"
    assert any(str(e(3)(1)(1)) == "207" and str(e(2)) == "PID^1^3" for e in ack.segments("ERR"))
    subjects = {e["subject"] for e in stored(publisher)}
    assert subjects <= {"MRN25"} and len(stored(publisher)) == (4 if which == "one" else 0)
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert "did not name the patient" in letter["reason"]


# -- character sets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["UNICODE UTF-8", "UTF-8", "ASCII"])
@pytest.mark.parametrize(
    "bad", [b"\xe9", b"\xff\xfe", b"\xc3"], ids=["latin-1 e-acute", "ff fe", "cut sequence"]
)
def test_bytes_not_valid_in_the_declared_charset_are_refused_naming_msh18(
    handler: Hl7Intake, publisher: MemoryPublisher, charset: str, bad: bytes
) -> None:
    text = samples.oru_pain("EPR-30", "MRN30").replace("UNICODE UTF-8", charset)
    raw = text.encode().replace(b"SMITH", b"SM" + bad + b"TH")
    _reply, ack = send(handler, raw)
    assert msa(ack) == ("AE", "EPR-30")
    assert str(ack.segment("ERR")(2)) == "MSH^1^18" and "declares" in str(ack.segment("ERR")(8))
    assert stored(publisher) == []


@pytest.mark.parametrize(
    ("charset", "shown"),
    [
        ("KOI8-R", "'KOI8-R'"),
        ("UNICODE UTF-16", "'UNICODE UTF-16'"),
        ("8859/5", "'8859/5'"),
        ("SM\u00cfTH^JANE 12 HIGH STREET LONDON N1 9GU 9434765919", "characters not shown"),
    ],
)
def test_an_unknown_declared_charset_is_refused_naming_msh18_and_the_value_bounded(
    handler: Hl7Intake, publisher: MemoryPublisher, charset: str, shown: str
) -> None:
    text = samples.oru_pain("EPR-31", "MRN31").replace("UNICODE UTF-8", charset)
    reply, ack = send(handler, text)
    assert reply.ack == "AE"
    err = ack.segment("ERR")
    assert str(err(2)) == "MSH^1^18" and str(err(3)(1)(1)) == "103"
    assert shown in str(err(8)) and "HIGH STREET" not in reply.text
    assert stored(publisher) == []


@pytest.mark.parametrize("charset", ["8859/1", ""])
def test_latin1_is_read_when_declared_or_when_msh18_is_empty(
    handler: Hl7Intake, publisher: MemoryPublisher, charset: str
) -> None:
    text = samples.oru_pain("EPR-32", "MRN32").replace("|UNICODE UTF-8", f"|{charset}" if charset else "")
    reply, _ = send(handler, text.replace("SMITH", "SM\u00cfTH").encode("latin-1"))
    assert reply.ack == "AA" and reply.encoding == "latin-1" and len(stored(publisher)) == 1


# -- headers and logs ------------------------------------------------------------------------------------

PID_TEXT = ("SMITH", "JANE", "9434765919", "HIGH STREET", "N1 9GU", "19610314")


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_the_header_never_holds_the_next_segment(separator: str) -> None:
    text = samples.oru_pain("EPR-40", "MRN40").replace("\r", separator)
    cut = text.split(separator)[0].rsplit("|", 8)[0]  # MSH ending at MSH-10
    raw = (cut + separator + separator.join(text.split(separator)[1:])).encode()
    unnormalised = read_header(raw.decode(), "utf-8")  # read straight from the text as received
    for header in (sniff_header(raw), parse_message(raw).header, unnormalised):
        assert header is not None and header.control_id == "EPR-40"


@pytest.mark.parametrize(
    "control_id",
    [
        "EPR-41\x0bPID|1||MRN41^^^RLH^MR||SMITH^JANE",  # a separator MLLP does not know
        "SMITH JANE 9434765919 12 HIGH STREET",
        "X" * 41,
        "EPR\x85PID|1||9434765919",
    ],
)
def test_a_control_id_that_is_not_a_plain_identifier_is_logged_as_invalid_with_its_length(
    handler: Hl7Intake, log: Recorder, control_id: str
) -> None:
    text = samples.oru_pain("EPR-41", "MRN41").replace("|EPR-41|", f"|{control_id}|")
    send(handler, text.replace("ORU^R01^ORU_R01", "SIU^S12^SIU_S12"))  # refused: mllp.refused
    send(handler, text)  # mapped: mllp.message
    logged = json.dumps(log.lines)
    assert not any(part in logged for part in PID_TEXT)
    fields = [line for line in log.lines if "control_id" in line]
    assert "mllp.refused" in {line["event"] for line in fields}
    assert all(line["control_id"] == "[invalid]" and line["control_id_length"] > 0 for line in fields)


def test_unknown_codes_are_logged_only_as_codes_never_as_text(handler: Hl7Intake, log: Recorder) -> None:
    extra = [
        "OBX|6|CWE|^SMITH JANE 12 HIGH STREET N1 9GU||Y||||||F",  # text, no code
        "OBX|7|CWE|9434765919 SMITH^Next of kin^L||Y||||||F",  # a code field holding a name
        "OBX|8|CWE|XYZ1^Some local finding^99LOC||Y||||||F",
    ]
    reply, _ = send(handler, samples.oru_pain("EPR-42", "MRN42", extra=extra))
    assert reply.ack == "AE"
    [unmapped] = [line for line in log.lines if line["event"] == "mllp.unmapped"]
    assert unmapped["codes"] == ["XYZ1 (99LOC)"] and unmapped["not_shown"] == 1
    assert not any(part in json.dumps(log.lines) for part in PID_TEXT)


def test_a_framing_error_is_answered_ae_naming_the_fault_and_its_control_id(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    raw = b"garbage" + b"\x0b" + samples.oru_pain("EPR-43", "MRN43").encode()
    reply = asyncio.run(handler.framing_error(FramingError("7 bytes before the start block (0x0b)", raw)))
    ack = hl7.parse(reply.text)
    assert msa(ack) == ("AE", "EPR-43") and "MLLP framing: 7 bytes before" in str(ack.segment("MSA")(3))
    assert stored(publisher) == []
    [letter] = stored(publisher, topics.CLINICAL_EVENTS_DLQ)
    assert letter["raw"].startswith("garbage")  # kept as received
