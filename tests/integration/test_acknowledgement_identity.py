"""Acknowledgements record who the credential proves, end to end over real HTTP on a real broker.

A real OpenID Connect provider (panva/oidc-provider on loopback) issues a clinician's access token for
intake through the authorization code flow with PKCE and a resource indicator; intake (a real process)
checks it against the provider's published keys; followup (a real process) knows the escalation, read
from ``care.escalations``. The acknowledgement on ``care.acknowledgements`` names the verified subject and
role and says which system sent it (``carepath-sender``); a role typed into the body that the token does
not carry is refused and nothing is stored; a system's token acknowledging for a named clinician is
recorded with both, the clinician as asserted and the system that asserted it.

The worklist page (a real process) logs the clinician in with the same provider, asking for intake's
audience, offers only the roles their token carries, and acknowledges with their own token: the record is
the verified clinician, sent by the page's client.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from carepath import auth, envelope, topics
from carepath.resources import schemas_dir
from carepath_tools.broker import free_port
from carepath_tools.devstack import Service, Stack
from tests.conftest import BrokerInfo
from tests.support.clinician_login import access_token, signed_in
from tests.support.oidc_provider import Provider, provider
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration

AUDIENCE = "https://intake.carepath.test"
ENGINE_TOKEN = "engine-token-for-the-identity-test-0001"
ACK_SYSTEM_TOKEN = "ack-system-token-for-the-identity-test-01"
PATIENT_HEADER = "X-Carepath-Patient-Id"


@dataclass(frozen=True)
class Setup:
    idp: Provider
    intake: Service
    followup: Service
    worklist: Service
    redirect_uri: str
    bootstrap: str


@pytest.fixture(scope="module")
def setup(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    logs: Path = tmp_path_factory.mktemp("acknowledgement-identity")
    redirect_uri = f"http://127.0.0.1:{free_port()}/auth/callback"  # nothing listens: the code is read
    worklist_port = free_port()
    page = f"http://127.0.0.1:{worklist_port}"
    callbacks = [redirect_uri, f"{page}/auth/callback"]
    with provider(callbacks, logs / "oidc-provider.log", api_resource=AUDIENCE) as idp:
        stack = Stack(log_dir=logs, bootstrap=broker.bootstrap, profile=broker.profile)
        stack.start_broker()
        followup_port = free_port()
        followup = stack.add("followup", "followup", "CAREPATH_FOLLOWUP_PORT", port=followup_port)
        intake = stack.add(
            "intake",
            "intake",
            "CAREPATH_INTAKE_PORT",
            {
                "CAREPATH_INTAKE_FOLLOWUP_URL": f"http://127.0.0.1:{followup_port}",
                "CAREPATH_INTAKE_MLLP_PORT": "0",
                "CAREPATH_INTAKE_TOKENS": f"mirth-north:{ENGINE_TOKEN}",
                "CAREPATH_INTAKE_ACK_TOKENS": f"ack-portal:{ACK_SYSTEM_TOKEN}",
                "CAREPATH_INTAKE_OIDC_ISSUER": idp.issuer,
                "CAREPATH_INTAKE_OIDC_AUDIENCE": AUDIENCE,
            },
        )
        worklist = stack.add(
            "worklist",
            "worklist",
            "CAREPATH_WORKLIST_PORT",
            {
                "CAREPATH_WORKLIST_DEV_LOGIN": "false",
                "CAREPATH_WORKLIST_PUBLIC_URL": page,
                "CAREPATH_WORKLIST_OIDC_ISSUER": idp.issuer,
                "CAREPATH_WORKLIST_OIDC_CLIENT_ID": idp.client_id,
                "CAREPATH_WORKLIST_OIDC_CLIENT_SECRET": idp.client_secret,
                "CAREPATH_WORKLIST_OIDC_RESOURCE": AUDIENCE,
                "CAREPATH_WORKLIST_FOLLOWUP_URL": f"http://127.0.0.1:{followup_port}",
                "CAREPATH_WORKLIST_INTAKE_URL": intake.url,
            },
            port=worklist_port,
        )
        try:
            followup.start()
            intake.start()
            worklist.start()
            followup.wait_ready(90)
            intake.wait_ready(60)
            worklist.wait_ready(60)
            yield Setup(idp, intake, followup, worklist, redirect_uri, broker.bootstrap)
        finally:
            stack.stop()


def escalation_known_to_followup(s: Setup) -> tuple[str, str]:
    """A patient and an escalation of theirs, published to care.escalations and read by followup."""
    rec: dict[str, Any] = json.loads(
        (
            schemas_dir() / "examples" / "carepath.escalation.raised.v1" / "valid" / "r1-mscc-suspected.json"
        ).read_text()
    )
    run = uuid.uuid4().hex[:12]
    patient, esc_id = f"ack-id-{run}", f"esc-{run}"
    rec["id"], rec["subject"] = f"{esc_id}.r1", patient
    rec["data"]["escalation_id"] = esc_id
    producer = KafkaProducer(bootstrap_servers=s.bootstrap, acks="all")
    try:
        producer.send(topics.ESCALATIONS, key=patient.encode(), value=envelope.encode(rec)).get(timeout=10)
    finally:
        producer.close()
    asked = {PATIENT_HEADER: patient, **auth.bearer(auth.DEV_WORKER_TOKEN)}
    deadline = time.monotonic() + 60
    while httpx.get(f"{s.followup.url}/v1/targets/{esc_id}", headers=asked, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "followup never read the escalation"
        time.sleep(0.25)
    return patient, esc_id


def post(s: Setup, credential: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{s.intake.url}/v1/acknowledgements", json=body, headers=auth.bearer(credential), timeout=15
    )


def acknowledgements_of(s: Setup, patient: str, count: int) -> list[tuple[dict[str, Any], dict[str, bytes]]]:
    reader = TopicReader(s.bootstrap, topics.ACKNOWLEDGEMENTS)
    try:
        reader.wait_for(lambda r: r.get("subject") == patient, count=count)
        reader.settle(0.5)
        return [
            (record, dict(headers))
            for record, headers in zip(reader.records, reader.headers, strict=True)
            if record.get("subject") == patient
        ]
    finally:
        reader.close()


def test_the_record_names_the_verified_clinician_and_refuses_a_forged_role(setup: Setup) -> None:
    patient, esc_id = escalation_known_to_followup(setup)
    # a nurse who is also in acute oncology logs in at the provider; intake gets their access token
    token = access_token(setup.idp, "acute_oncology+nurse.jones", setup.redirect_uri, AUDIENCE)[
        "access_token"
    ]
    body = {"patient_id": patient, "target_id": esc_id}

    forged = post(setup, token, body | {"role": "consultant"})
    assert forged.status_code == 403, forged.text
    assert "'consultant' is not one of the roles of the clinician's token" in forged.json()["detail"]
    unchosen = post(setup, token, body)
    assert unchosen.status_code == 422 and "several roles (acute_oncology, nurse)" in unchosen.text
    stored = post(setup, token, body | {"role": "nurse"})
    assert stored.status_code == 202, stored.text
    assert stored.json()["verified"] is True

    # a login whose account carries no carepath role cannot acknowledge, whatever role it types
    nobody = access_token(setup.idp, "porter.smith", setup.redirect_uri, AUDIENCE)["access_token"]
    assert post(setup, nobody, body | {"role": "nurse"}).status_code == 403

    # the system's token acknowledging for a named clinician: recorded with both
    behalf = {"id": "staff-C4471", "name": "Dr A. Patel", "role": "consultant"}
    assert post(setup, ACK_SYSTEM_TOKEN, body | {"role": "consultant"}).status_code == 422  # names nobody
    asserted = post(setup, ACK_SYSTEM_TOKEN, body | {"on_behalf_of": behalf})
    assert asserted.status_code == 202 and asserted.json()["verified"] is False, asserted.text

    # an engine's token may not acknowledge here
    assert post(setup, ENGINE_TOKEN, body | {"on_behalf_of": behalf}).status_code == 403

    ours = acknowledgements_of(setup, patient, 2)  # and nothing else: the refused ones were never stored
    assert len(ours) == 2
    by_sender = {headers["carepath-sender"].decode(): record["data"] for record, headers in ours}
    assert set(by_sender) == {"idp:carepath-worklist", "ack-portal"}
    verified = by_sender["idp:carepath-worklist"]
    assert verified["role"] == "nurse" and verified["target_id"] == esc_id
    assert verified["acknowledged_by"] == {
        "subject": "acute_oncology+nurse.jones",
        "name": "acute_oncology+nurse.jones",
        "issuer": setup.idp.issuer,
        "verified": True,
    }
    assert verified["sent_by"] == "idp:carepath-worklist"
    system = by_sender["ack-portal"]
    assert system["role"] == "consultant"
    assert system["acknowledged_by"] == {"subject": "staff-C4471", "name": "Dr A. Patel", "verified": False}
    assert system["sent_by"] == "ack-portal"

    log = setup.intake.log_path.read_text()
    assert token not in log and "acute_oncology+nurse.jones" not in log and patient not in log
    lines = [json.loads(line) for line in log.splitlines() if '"acknowledged"' in line]
    assert {line["sender"] for line in lines} == {"idp:carepath-worklist", "ack-portal"}


def test_a_token_from_the_provider_for_another_audience_is_refused(setup: Setup) -> None:
    """The ID token the same login gets is for the page (its aud is the page's client id), not for intake."""
    patient, esc_id = escalation_known_to_followup(setup)
    tokens = access_token(setup.idp, "acute_oncology.jones", setup.redirect_uri, AUDIENCE)
    r = post(setup, tokens["id_token"], {"patient_id": patient, "target_id": esc_id})
    assert r.status_code == 401 and "not for intake" in r.json()["detail"], r.text


def test_the_page_acknowledges_with_the_clinicians_own_token_offering_only_its_roles(setup: Setup) -> None:
    patient, esc_id = escalation_known_to_followup(setup)
    page = httpx.Client(base_url=setup.worklist.url, timeout=15, headers={"Accept": "text/html"})
    start = page.get("/login/oidc", params={"next": f"/alerts/{esc_id}"})
    assert start.status_code == 302 and "resource=" in start.headers["location"]
    with httpx.Client(timeout=15) as browser:  # at the provider, as the browser would be
        authorize = browser.get(start.headers["location"], follow_redirects=True)
        back = signed_in(
            browser, authorize, "acute_oncology+nurse.jones", f"{setup.worklist.url}/auth/callback"
        )
    done = page.get(back)
    assert done.status_code == 303, done.text
    deadline = time.monotonic() + 30
    while (alert := page.get(f"/alerts/{esc_id}")).status_code == 404:  # until the page has read it
        assert time.monotonic() < deadline, "the page never read the escalation"
        time.sleep(0.25)
    assert alert.status_code == 200, alert.text[:500]
    offered = re.findall(r'<option value="([a-z_]+)"', alert.text)
    assert offered == ["acute_oncology", "nurse"]  # the token's roles, none other
    csrf = re.search(r'name="csrf" value="([^"]+)"', alert.text)
    assert csrf
    form = {"csrf": csrf.group(1), "reason": "Seen on the ward."}
    typed = page.post(f"/alerts/{esc_id}/acknowledge", data=form | {"role": "consultant"})
    assert typed.status_code == 422 and "choose the role" in typed.text
    sent = page.post(f"/alerts/{esc_id}/acknowledge", data=form | {"role": "acute_oncology"})
    assert sent.status_code == 200 and "as your login proves" in sent.text, sent.text[-1500:]

    [(record, headers)] = acknowledgements_of(setup, patient, 1)
    assert headers["carepath-sender"] == b"idp:carepath-worklist"
    assert record["data"]["role"] == "acute_oncology" and record["data"]["reason"] == "Seen on the ward."
    assert record["data"]["acknowledged_by"]["subject"] == "acute_oncology+nurse.jones"
    assert record["data"]["acknowledged_by"]["verified"] is True
