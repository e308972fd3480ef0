"""A Communication acknowledging an escalation is an engine acting for a clinician: the clinician its
``sender`` names is recorded as asserted by that engine (``acknowledged_by``, ``verified: false``), and the
engine by the name of its credential (``sent_by``, and the ``carepath-sender`` header)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from carepath import topics
from intake import acknowledging
from intake.acknowledging import Target
from intake.app import create_app
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.unit.intake.support import FixedClock

pytestmark = pytest.mark.unit

ENGINE_TOKEN = "engine-token-engine-token-rhapsody"
HEADERS = {"Authorization": f"Bearer {ENGINE_TOKEN}", "Content-Type": "application/fhir+json"}


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    async def known(*_: Any) -> Target:
        return Target.KNOWN

    monkeypatch.setattr(acknowledging, "check_target", known)  # followup's answer: its own tests
    settings = IntakeSettings(environment="test", CAREPATH_INTAKE_TOKENS=f"rhapsody:{ENGINE_TOKEN}")  # type: ignore[call-arg]
    with TestClient(create_app(settings, publisher, FixedClock())) as c:
        yield c


def communication(n: int, sender: dict[str, Any] | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": f"ack-c-{n}",
        "status": "completed",
        "category": [
            {
                "coding": [
                    {
                        "system": "https://carepath.example/fhir/CodeSystem/care-step",
                        "code": "escalation_acknowledgement",
                    }
                ]
            }
        ],
        "subject": {"reference": "Patient/MRN-5520"},
        "sent": "2026-11-21T08:40:00Z",
        "about": [{"identifier": {"system": "https://carepath.example/escalation", "value": f"esc-r1-{n}"}}],
    }
    if sender is not None:
        resource["sender"] = sender
    return resource


@pytest.mark.parametrize(
    ("sender", "role", "who"),
    [
        (
            {"reference": "Practitioner/staff-C4471", "display": "Consultant"},
            "consultant",
            {"subject": "Practitioner/staff-C4471", "verified": False},
        ),
        (
            {
                "identifier": {"system": "https://hospital.test/staff", "value": "C4471"},
                "display": "Dr A. Patel",
            },
            "other",
            {"subject": "https://hospital.test/staff|C4471", "name": "Dr A. Patel", "verified": False},
        ),
        ({"display": "MSCC coordinator"}, "mscc_coordinator", None),  # a role, no one named
        (None, "other", None),
    ],
    ids=["reference", "identifier", "role-only", "no-sender"],
)
def test_the_sender_is_recorded_as_asserted_by_the_engine(
    client: TestClient,
    publisher: MemoryPublisher,
    sender: dict[str, Any] | None,
    role: str,
    who: dict[str, Any] | None,
) -> None:
    r = client.post("/fhir/Communication", content=orjson.dumps(communication(1, sender)), headers=HEADERS)
    assert r.status_code == 201, r.text
    [record] = [rec for rec in publisher.records if rec.topic == topics.ACKNOWLEDGEMENTS]
    data = orjson.loads(record.value)["data"]
    assert data["role"] == role and data["sent_by"] == "rhapsody"
    assert data.get("acknowledged_by") == who
    assert dict(record.headers)["carepath-sender"] == b"rhapsody"
