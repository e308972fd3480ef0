"""Who acknowledged comes from the credential, never from the body.

A clinician's own token (a JWT checked against the identity provider's keys) is recorded as verified, with
a role the token carries; a role it does not carry is refused, never stored. A system acknowledging for a
clinician names them in ``on_behalf_of`` and is recorded as asserting it. An engine's acknowledgement over
``/v1/events`` cannot claim a verified identity, and whatever it writes as ``sent_by`` is replaced by its
credential's name. Every record intake publishes names the system that sent it (``carepath-sender``).

intake over an in-memory publisher; the provider's keys answered in memory; followup's answer stubbed at
the seam the route asks it through (its own tests cover that exchange)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from carepath import logs, topics
from carepath.clinician_tokens import IssuerKeys, Verifier
from intake.acknowledging import ROLES, Target
from intake.app import create_app
from intake.publisher import MemoryPublisher, Record
from intake.routes import acknowledgements
from intake.settings import IntakeSettings
from tests.unit.intake.support import FixedClock

pytestmark = pytest.mark.unit

ISSUER = "https://login.hospital.test"
AUDIENCE = "https://intake.hospital.test"
ENGINE_TOKEN = "engine-token-engine-token-0001"
ACK_SYSTEM_TOKEN = "ack-token-ack-token-ack-token-01"
ENGINE = f"mirth-north:{ENGINE_TOKEN}"  # name:token, as CAREPATH_INTAKE_TOKENS lists it
ACK_SYSTEM = f"ack-portal:{ACK_SYSTEM_TOKEN}"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
SUBJECT = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
PATIENT = "MRN-4471"
TARGET = "esc-r1-0a1b2c3d4e5f60718293"


def idp(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/.well-known/openid-configuration":
        return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
    return httpx.Response(200, json={"keys": [KEY.as_dict(private=False)]})


def token(roles: Any = ("acute_oncology",), key: RSAKey = KEY, **changes: Any) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "name": "Sam Jones",
        "client_id": "carepath-worklist",
        "exp": int(time.time()) + 300,
        "iat": int(time.time()),
        "carepath_roles": list(roles),
    } | changes
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, claims, key)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    async def known(*_: Any) -> Target:
        return Target.KNOWN

    monkeypatch.setattr(acknowledgements, "check_target", known)
    settings = IntakeSettings(
        environment="test",
        CAREPATH_INTAKE_TOKENS=ENGINE,
        CAREPATH_INTAKE_ACK_TOKENS=ACK_SYSTEM,
        CAREPATH_INTAKE_OIDC_ISSUER=ISSUER,
        CAREPATH_INTAKE_OIDC_AUDIENCE=AUDIENCE,
    )  # type: ignore[call-arg]
    verifier = Verifier(IssuerKeys(ISSUER, transport=httpx.MockTransport(idp)), AUDIENCE, ROLES)
    app = create_app(settings, publisher, FixedClock(), verifier=verifier)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def body(**more: Any) -> dict[str, Any]:
    return {"patient_id": PATIENT, "target_id": TARGET} | more


def acknowledged(publisher: MemoryPublisher) -> list[tuple[dict[str, Any], Record]]:
    return [(orjson.loads(r.value), r) for r in publisher.records if r.topic == topics.ACKNOWLEDGEMENTS]


def sender(record: Record) -> str:
    [value] = [v for k, v in record.headers if k == "carepath-sender"]
    return value.decode()


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_clinicians_own_token_is_recorded_as_the_verified_clinician(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    before = counted("carepath_intake_acknowledgements_total", identity="verified")
    with capture_logs() as logged:
        r = client.post("/v1/acknowledgements", json=body(), headers=bearer(token()))
    assert r.status_code == 202, r.text
    assert r.json()["role"] == "acute_oncology" and r.json()["verified"] is True
    [(event, record)] = acknowledged(publisher)
    assert event["data"]["role"] == "acute_oncology"
    assert event["data"]["acknowledged_by"] == {
        "subject": SUBJECT,
        "name": "Sam Jones",
        "issuer": ISSUER,
        "verified": True,
    }
    assert event["data"]["sent_by"] == "idp:carepath-worklist" == sender(record)
    assert counted("carepath_intake_acknowledgements_total", identity="verified") == before + 1
    [line] = [e for e in logged if e["event"] == "acknowledged"]
    assert line["user"] == logs.pseudonym(SUBJECT) and line["sender"] == "idp:carepath-worklist"
    assert line["identity"] == "verified" and line["role"] == "acute_oncology"
    assert SUBJECT not in str(logged) and PATIENT not in str(logged)


def test_a_role_typed_into_the_body_that_the_token_does_not_carry_is_refused(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    before = counted("carepath_intake_acknowledgements_refused_total", reason="role_not_in_token")
    r = client.post("/v1/acknowledgements", json=body(role="consultant"), headers=bearer(token()))
    assert r.status_code == 403, r.text
    assert "'consultant' is not one of the roles of the clinician's token (acute_oncology)" in r.text
    assert publisher.records == []
    assert counted("carepath_intake_acknowledgements_refused_total", reason="role_not_in_token") == before + 1


def test_a_token_with_several_roles_must_say_which_and_may_choose_only_among_them(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    both = token(roles=("acute_oncology", "nurse", "porter"))
    r = client.post("/v1/acknowledgements", json=body(), headers=bearer(both))
    assert r.status_code == 422 and "several roles (acute_oncology, nurse)" in r.text
    assert client.post("/v1/acknowledgements", json=body(role="gp"), headers=bearer(both)).status_code == 403
    r = client.post("/v1/acknowledgements", json=body(role="nurse"), headers=bearer(both))
    assert r.status_code == 202, r.text
    [(event, _)] = acknowledged(publisher)
    assert event["data"]["role"] == "nurse" and event["data"]["acknowledged_by"]["verified"] is True


def test_a_token_with_no_carepath_role_cannot_acknowledge(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    r = client.post("/v1/acknowledgements", json=body(role="nurse"), headers=bearer(token(roles=["porter"])))
    assert r.status_code == 403 and "carries no carepath role" in r.text
    assert publisher.records == []


def test_a_clinicians_token_cannot_act_for_someone_else(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    behalf = {"id": "staff-0002", "role": "acute_oncology"}
    r = client.post("/v1/acknowledgements", json=body(on_behalf_of=behalf), headers=bearer(token()))
    assert r.status_code == 403 and "on_behalf_of" in r.text
    assert publisher.records == []


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "carepath-worklist"}, "not for intake"),
        ({"iss": "https://login.elsewhere.test"}, "not issued by the configured identity provider"),
    ],
)
def test_a_token_that_does_not_pass_is_401_saying_why(
    client: TestClient, publisher: MemoryPublisher, forged: dict[str, Any], why: str
) -> None:
    r = client.post("/v1/acknowledgements", json=body(), headers=bearer(token(**forged)))
    assert r.status_code == 401 and why in r.json()["detail"], r.text
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert publisher.records == []


def test_a_token_signed_by_anyone_else_is_refused(client: TestClient, publisher: MemoryPublisher) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    before = counted("carepath_intake_clinician_tokens_refused_total", reason="signature")
    r = client.post("/v1/acknowledgements", json=body(), headers=bearer(token(key=forger)))
    assert r.status_code == 401 and "signature" in r.text
    assert counted("carepath_intake_clinician_tokens_refused_total", reason="signature") == before + 1
    assert publisher.records == []


def test_a_system_acknowledging_must_name_the_clinician_and_is_recorded_as_asserting_it(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    system = bearer(ACK_SYSTEM_TOKEN)
    r = client.post("/v1/acknowledgements", json=body(role="consultant"), headers=system)
    assert r.status_code == 422 and "on_behalf_of" in r.text
    behalf = {"id": "staff-C4471", "name": "Dr A. Patel", "role": "consultant"}
    conflicting = body(role="nurse", on_behalf_of=behalf)
    assert client.post("/v1/acknowledgements", json=conflicting, headers=system).status_code == 422
    assert publisher.records == []
    r = client.post("/v1/acknowledgements", json=body(on_behalf_of=behalf), headers=system)
    assert r.status_code == 202 and r.json()["verified"] is False, r.text
    [(event, record)] = acknowledged(publisher)
    assert event["data"]["role"] == "consultant"
    assert event["data"]["acknowledged_by"] == {
        "subject": "staff-C4471",
        "name": "Dr A. Patel",
        "verified": False,
    }
    assert event["data"]["sent_by"] == "ack-portal" == sender(record)


def test_an_engines_token_may_not_acknowledge_here(client: TestClient) -> None:
    behalf = {"id": "staff-1", "role": "consultant"}
    r = client.post("/v1/acknowledgements", json=body(on_behalf_of=behalf), headers=bearer(ENGINE_TOKEN))
    assert r.status_code == 403


def test_without_an_issuer_a_clinicians_token_is_just_an_unknown_token(publisher: MemoryPublisher) -> None:
    settings = IntakeSettings(
        environment="test", CAREPATH_INTAKE_TOKENS=ENGINE, CAREPATH_INTAKE_ACK_TOKENS=ACK_SYSTEM
    )  # type: ignore[call-arg]
    with TestClient(create_app(settings, publisher, FixedClock())) as c:
        r = c.post("/v1/acknowledgements", json=body(), headers=bearer(token()))
    assert r.status_code == 401 and r.json()["detail"] == "missing or invalid bearer token"


def ack_event(**data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "ack-epr-1",
        "source": "urn:hospital:epr",
        "type": "carepath.escalation.acknowledged.v1",
        "subject": PATIENT,
        "time": "2026-11-21T08:40:00Z",
        "data": {"target_id": TARGET, "role": "consultant"} | data,
    }


def test_an_engine_cannot_send_an_acknowledgement_claiming_a_verified_identity(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    claimed = {"subject": SUBJECT, "issuer": ISSUER, "verified": True}
    r = client.post("/v1/events", json=ack_event(acknowledged_by=claimed), headers=bearer(ENGINE_TOKEN))
    assert r.status_code == 422 and r.json()["field"] == "/data/acknowledged_by/verified", r.text
    [letter] = [orjson.loads(rec.value) for rec in publisher.records]
    assert publisher.records[0].topic == topics.CLINICAL_EVENTS_DLQ
    assert letter["sender"] == "mirth-north" == sender(publisher.records[0])
    assert acknowledged(publisher) == []


def test_an_engines_acknowledgement_says_which_engine_sent_it_whatever_it_wrote(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    asserted = {"subject": "staff-9", "verified": False}
    event = ack_event(acknowledged_by=asserted, sent_by="ack-portal")
    assert client.post("/v1/events", json=event, headers=bearer(ENGINE_TOKEN)).status_code == 202
    [(stored, record)] = acknowledged(publisher)
    assert stored["data"]["sent_by"] == "mirth-north" == sender(record)
    assert stored["data"]["acknowledged_by"] == asserted


def test_every_record_names_its_sender(client: TestClient, publisher: MemoryPublisher) -> None:
    pain = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:hospital:epr",
        "type": "carepath.pain.reported.v1",
        "subject": PATIENT,
        "time": "2026-11-21T08:40:00Z",
        "data": {"nrs": 6, "site": ["lumbar"]},
    }
    bad = pain | {"id": "e-2", "data": {"nrs": 14, "site": ["lumbar"]}}
    with capture_logs() as logged:
        assert client.post("/v1/events", json=[pain, bad], headers=bearer(ENGINE_TOKEN)).status_code == 422
    [line] = [e for e in logged if e["event"] == "input_dead_lettered"]
    assert line["sender"] == "mirth-north" and line["reasons"] == ["schema_invalid"]
    fhir = {"resourceType": "Observation", "id": "obs-1", "status": "final"}  # refused: no code, no subject
    headers = bearer(ENGINE_TOKEN) | {"Content-Type": "application/fhir+json"}
    assert client.post("/fhir/Observation", json=fhir, headers=headers).status_code >= 400
    assert len(publisher.records) == 3
    assert {sender(r) for r in publisher.records} == {"mirth-north"}
    letters = [orjson.loads(r.value) for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_DLQ]
    assert [(d["channel"], d["sender"]) for d in letters] == [
        ("http", "mirth-north"),
        ("fhir", "mirth-north"),
    ]
