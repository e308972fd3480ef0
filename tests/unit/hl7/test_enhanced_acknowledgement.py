"""Enhanced acknowledgement mode (HL7 v2 chapter 2): MSH-15 asks for a commit acknowledgement, MSH-16 for
the application acknowledgement, each always (AL), never (NE), on error only (ER) or on success only (SU).
A commit CA is sent only once the message is stored; CE/CR when it is not. Both empty: original mode."""

from __future__ import annotations

import asyncio

import hl7
import pytest

from intake.hl7.handler import Hl7Intake
from intake.publisher import MemoryPublisher
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit


def with_ack_types(message: str, accept: str, application: str) -> str:
    assert "|||||GBR|" in message  # the samples' MSH is in original mode
    return message.replace("|||||GBR|", f"|||{accept}|{application}|GBR|", 1)


def answers(handler: Hl7Intake, message: str) -> list[tuple[str, list[str]]]:
    """(MSA-1, the ERR codes) of each acknowledgement sent, in order."""
    reply = asyncio.run(handler.handle(message.encode()))
    sent = []
    for frame in reply.frames:
        ack = hl7.parse(frame)
        errs = [str(s(3)(1)(1)) for s in ack if str(s(0)) == "ERR"] if "\rERR" in frame else []
        sent.append((str(ack.segment("MSA")(1)), errs))
    return sent


GOOD = samples.oru_pain("ENH-1", "MRN-E1")
CONTENT_ERROR = samples.oru_pain("ENH-2", "MRN-E2", nrs="14")  # stored in part, AE
UNSUPPORTED = samples.oru_pain("ENH-3", "MRN-E3").replace("ORU^R01^ORU_R01", "SIU^S12^SIU_S12")


@pytest.mark.parametrize(
    ("message", "accept", "application", "sent"),
    [
        # original mode: the application acknowledgement alone, as before
        (GOOD, "", "", [("AA", [])]),
        # a commit acknowledgement only, once stored: what most engines ask for (AL|NE)
        (GOOD, "AL", "NE", [("CA", [])]),
        (GOOD, "AL", "AL", [("CA", []), ("AA", [])]),
        (GOOD, "SU", "ER", [("CA", [])]),
        (GOOD, "ER", "SU", [("AA", [])]),
        (GOOD, "NE", "NE", []),
        (GOOD, "AL", "", [("CA", [])]),  # an empty MSH-16 in enhanced mode asks for nothing
        # read and stored, with a content problem: committed; the problem is the application's AE
        (CONTENT_ERROR, "AL", "NE", [("CA", [])]),
        (CONTENT_ERROR, "AL", "ER", [("CA", []), ("AE", ["102"])]),
        (CONTENT_ERROR, "ER", "ER", [("AE", ["102"])]),
        # refused whole for its type: commit reject, with the reason
        (UNSUPPORTED, "AL", "NE", [("CR", ["200"])]),
        (UNSUPPORTED, "ER", "AL", [("CR", ["200"]), ("AE", ["200"])]),
        (UNSUPPORTED, "SU", "SU", []),
    ],
)
def test_what_is_sent_follows_msh_15_and_msh_16(
    handler: Hl7Intake, message: str, accept: str, application: str, sent: list[tuple[str, list[str]]]
) -> None:
    assert answers(handler, with_ack_types(message, accept, application)) == sent


def test_the_commit_is_sent_only_after_the_event_is_stored(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    [(code, _)] = answers(handler, with_ack_types(samples.oru_pain("ENH-4", "MRN-E4"), "AL", "NE"))
    assert code == "CA" and any(r.key == b"MRN-E4" for r in publisher.records)


def test_an_event_store_that_does_not_acknowledge_is_a_commit_error_naming_207(
    handler: Hl7Intake, publisher: MemoryPublisher
) -> None:
    publisher.fail = True
    message = with_ack_types(samples.oru_pain("ENH-5", "MRN-E5"), "AL", "AL")
    assert answers(handler, message) == [("CE", ["207"]), ("AR", ["207"])]
    assert publisher.records == []


def test_both_acknowledgements_answer_the_message_s_control_id_each_under_its_own(handler: Hl7Intake) -> None:
    reply = asyncio.run(
        handler.handle(with_ack_types(samples.oru_pain("ENH-6", "MRN-E6"), "AL", "AL").encode())
    )
    commit, application = (hl7.parse(frame) for frame in reply.frames)
    assert [str(a.segment("MSA")(2)) for a in (commit, application)] == ["ENH-6", "ENH-6"]
    assert str(commit.segment("MSH")(10)) != str(application.segment("MSH")(10))
    assert str(commit.segment("MSH")(9)) == "ACK^R01^ACK" and reply.commit == "CA" and reply.ack == "AA"


@pytest.mark.parametrize(("accept", "application", "field"), [("XX", "NE", "15"), ("AL", "always", "16")])
def test_an_acknowledgement_type_outside_table_0155_is_refused_in_original_mode(
    handler: Hl7Intake, accept: str, application: str, field: str
) -> None:
    reply = asyncio.run(handler.handle(with_ack_types(GOOD, accept, application).encode()))
    assert reply.commit is None and len(reply.frames) == 1
    ack = hl7.parse(reply.frames[0])
    assert str(ack.segment("MSA")(1)) == "AE"
    err = ack.segment("ERR")
    assert str(err(2)) == f"MSH^1^{field}" and str(err(3)(1)(1)) == "103"
