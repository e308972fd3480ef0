"""An acknowledgement's ids are checked before anything is built from them: a control character, a path
separator or a query in ``target_id`` or ``patient_id`` is a 422 naming the field, never a 500, and never
reaches followup's URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from carepath_tools.broker import free_port
from intake.publisher import MemoryPublisher
from tests.unit.intake.support import ACK_AUTH, served

pytestmark = pytest.mark.unit


@pytest.fixture
def client() -> Iterator[TestClient]:
    # followup is a port nobody listens on: a request that got as far as asking it would be a 503
    with served(MemoryPublisher(), CAREPATH_INTAKE_FOLLOWUP_URL=f"http://127.0.0.1:{free_port()}") as c:
        yield c


@pytest.mark.parametrize(
    "target",
    [
        "esc-r1-0001\x00",
        "esc-r1-0001\r\nX-Injected: 1",
        "esc-r1-0001\x7f",
        "../../v1/worklist",
        "esc-r1/0001",
        "esc-r1-0001?all=1",
        "esc-r1-0001#frag",
        "esc r1 0001",
        "%2e%2e%2f",
        "esc-r1-é",
        "e" * 161,
        "",
    ],
    ids=[
        "nul",
        "crlf",
        "del",
        "dot-dot",
        "slash",
        "query",
        "fragment",
        "space",
        "percent",
        "unicode",
        "long",
        "empty",
    ],
)
def test_a_malformed_target_id_is_422_naming_it(client: TestClient, target: str) -> None:
    body = {"patient_id": "p-1", "target_id": target, "role": "acute_oncology"}
    reply = client.post("/v1/acknowledgements", json=body, headers=ACK_AUTH)
    assert reply.status_code == 422, reply.text
    assert "target_id" in reply.text


@pytest.mark.parametrize("patient", ["p-1/../x", "p\x00", "p 1", "p?x=1"])
def test_a_malformed_patient_id_is_422_naming_it(client: TestClient, patient: str) -> None:
    body = {"patient_id": patient, "target_id": "esc-r1-0001", "role": "acute_oncology"}
    reply = client.post("/v1/acknowledgements", json=body, headers=ACK_AUTH)
    assert reply.status_code == 422 and "patient_id" in reply.text, reply.text


def test_a_well_formed_id_is_checked_with_followup_and_unreachable_followup_is_503(
    client: TestClient,
) -> None:
    body = {
        "patient_id": "p-1",
        "target_id": "f3-0a1b2c3d4e5f60718293.overdue.2",
        "on_behalf_of": {"id": "staff-1", "role": "nurse"},
    }
    reply = client.post("/v1/acknowledgements", json=body, headers=ACK_AUTH)
    assert reply.status_code == 503 and reply.headers["retry-after"] == "5", reply.text
