"""The fuzzer's oracle and mutators: the oracle refuses what is malformed (so "0 malformed accepted" means
something), and the same seed gives the same inputs."""

from __future__ import annotations

import random

import pytest

from carepath_tools.fuzz import mutate, oracle, seeds
from carepath_tools.fuzz.harness import event_input, fhir_input, hl7_input
from carepath_tools.fuzz.target import Limits

pytestmark = pytest.mark.unit

MSG = (
    "MSH|^~\\&|EPR|RLH|CAREPATH|RLH|20240501093000+0100||ORU^R01|C1|P|2.5.1|||AL|NE|GBR|UNICODE UTF-8\r"
    "PID|1||MRN1^^^RLH^MR\r"
    "OBX|1|NM|72514-3^Pain^LN||8||||||F"
)


def test_a_valid_event_passes_and_malformed_ones_do_not() -> None:
    pool = seeds.load(timelines=None)
    event = seeds.fresh_event(random.Random(1), pool, "t")
    oracle.check_events(orjson_bytes(event))
    for body in (
        b'{"id": "a", "id": "b"}',
        b"[]",
        b"\xff{}",
        b"[" * 70 + b"]" * 70,
        orjson_bytes({**event, "subject": "has spaces"}),
    ):
        with pytest.raises(oracle.Malformed):
            oracle.check_events(body)


def test_hl7_validity_follows_the_declared_character_set() -> None:
    oracle.check_hl7(MSG.encode())
    oracle.check_hl7(b"\xef\xbb\xbf" + MSG.encode())  # a byte-order mark is tolerated
    undeclared = MSG.replace("UNICODE UTF-8", "").encode() + b"\rNTE|1||Ren\xe9e"
    oracle.check_hl7(undeclared)  # no MSH-18: ISO 8859-1 reads any byte
    for bad in (
        MSG.encode() + b"\rNTE|1||\xff",  # declared UTF-8, not UTF-8
        MSG.replace("PID|1||MRN1^^^RLH^MR", "PID|1||").encode(),
        MSG.replace("|C1|", "||").encode(),
        (MSG + "\r" + MSG).encode(),
        MSG[4:].encode(),
    ):
        with pytest.raises(oracle.Malformed):
            oracle.check_hl7(bad)


def test_an_ack_is_read_with_its_own_separators() -> None:
    ack = b"\x0bMSH#^~\\&#CAREPATH#RLH\rMSA#AE#C1\rERR###207^Application error#E####bad field"
    assert oracle.ack_code(ack) == ("AE", "bad field")
    assert oracle.ack_code(b"MSH#^~\\&#A\rMSA#AR#C1\rERR###207") == ("AR", "207")
    assert oracle.ack_code(b"MSH|^~\\&|A\rMSA|AA|C1") == ("AA", None)


def test_a_refusal_without_a_reason_is_noticed() -> None:
    assert oracle.http_reason(400, b'{"detail": "body is not JSON"}') == "body is not JSON"
    outcome = (
        b'{"resourceType": "OperationOutcome", "issue": [{"diagnostics": "Observation.status: required"}]}'
    )
    assert oracle.http_reason(400, outcome) == "Observation.status: required"
    assert oracle.http_reason(400, b'{"resourceType": "OperationOutcome", "issue": [{}]}') is None
    assert oracle.http_reason(400, b"Bad Request") is None


def test_the_same_seed_gives_the_same_inputs() -> None:
    pool, limits = seeds.load(), Limits()
    for n in range(40):
        assert event_input(n, 3, pool, limits) == event_input(n, 3, pool, limits)
        assert fhir_input(n, 3, pool, limits) == fhir_input(n, 3, pool, limits)
        assert hl7_input(n, 3, pool, limits)[:1] == hl7_input(n, 3, pool, limits)[:1]
    assert {event_input(n, 3, pool, limits).body for n in range(40)} != {
        event_input(n, 4, pool, limits).body for n in range(40)
    }


def test_a_duplicate_key_mutant_writes_a_key_twice() -> None:
    mutant = mutate.j_duplicate_key(random.Random(5), {"a": 1, "b": {"c": 2}})
    with pytest.raises(oracle.Malformed, match="twice"):
        oracle.strict_json(mutant.body)


def orjson_bytes(doc: object) -> bytes:
    import json

    return json.dumps(doc).encode()
