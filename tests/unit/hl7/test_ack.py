"""The ACK message: what an integration engine reads from it (MSA-1, MSA-2, ERR)."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest

from intake.hl7.ack import AckError, build_ack
from intake.hl7.message import Header, parse_message
from intake.hl7.problems import DATA_TYPE_ERROR, INTERNAL_ERROR, Location
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 1, 8, 30, 5, tzinfo=UTC)


def header(version: str = "2.5.1") -> Header:
    return parse_message(samples.oru_pain("EPR-42", "MRN1", version=version).encode()).header


def test_aa_echoes_the_control_id_and_swaps_sender_and_receiver() -> None:
    ack = hl7.parse(build_ack("AA", header(), "CP00001", NOW))
    msh, msa = ack.segment("MSH"), ack.segment("MSA")
    assert str(msh(3)) == "CAREPATH" and str(msh(4)) == "RLH"
    assert (
        str(msh(5)) == "EPR" and str(msh(6)) == "RLH"
    )  # the sender's application and facility (HD namespace)
    assert str(msh(7)) == "20240501083005+0000"
    assert str(msh(9)) == "ACK^R01^ACK"
    assert (str(msh(10)), str(msh(11)), str(msh(12))) == ("CP00001", "P", "2.5.1")
    assert (str(msa(1)), str(msa(2))) == ("AA", "EPR-42")
    assert len(ack) == 2  # no ERR on success


def test_ae_names_each_problem_in_an_err_segment_v251() -> None:
    errors = [
        AckError(
            DATA_TYPE_ERROR, "OBX[1]-5: pain score 'severe' is not a whole number", Location("OBX", 1, 5)
        ),
        AckError(INTERNAL_ERROR, "second problem"),
    ]
    ack = hl7.parse(build_ack("AE", header(), "CP00002", NOW, errors))
    assert str(ack.segment("MSA")(1)) == "AE"
    assert str(ack.segment("MSA")(3)) == "OBX[1]-5: pain score 'severe' is not a whole number"
    first, second = ack.segments("ERR")
    assert str(first(1)) == "OBX^1^5^102&Data type error&HL70357"  # ERR-1, read by v2.3/2.4 engines
    assert str(first(2)) == "OBX^1^5"  # ERR-2 error location
    assert str(first(3)) == "102^Data type error^HL70357"  # ERR-3 HL7 table 0357
    assert str(first(4)) == "E"
    assert str(first(8)) == "OBX[1]-5: pain score 'severe' is not a whole number"
    assert str(second(3)) == "207^Application internal error^HL70357"


def test_ar_for_a_v23_sender_uses_the_v23_err_form() -> None:
    text = build_ack(
        "AR", header("2.3"), "CP00003", NOW, [AckError(INTERNAL_ERROR, "event store unavailable")]
    )
    ack = hl7.parse(text)
    assert str(ack.segment("MSH")(9)) == "ACK^R01"  # v2.3 has no message structure component
    assert str(ack.segment("MSA")(1)) == "AR"
    err = ack.segment("ERR")
    assert str(err(1)) == "^^^207&Application internal error&HL70357"
    assert len(err) == 2  # only ERR-1 before v2.5


def test_delimiters_in_problem_text_are_escaped() -> None:
    errors = [AckError(DATA_TYPE_ERROR, "value 'a|b^c~d&e\\f' refused")]
    text = build_ack("AE", header(), "CP00004", NOW, errors)
    msa = text.split("\r")[1]
    assert msa == "MSA|AE|EPR-42|value 'a\\F\\b\\S\\c\\R\\d\\T\\e\\E\\f' refused"


def test_an_unreadable_message_still_gets_an_ack() -> None:
    text = build_ack("AE", None, "CP00005", NOW, [AckError(101, "not an HL7 v2 message")])
    ack = hl7.parse(text)
    assert str(ack.segment("MSA")(1)) == "AE" and str(ack.segment("MSA")(2)) == ""
    assert str(ack.segment("MSH")(3)) == "CAREPATH"
