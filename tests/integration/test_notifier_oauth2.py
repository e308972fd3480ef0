"""The notifier as a real process logging in to a FHIR server with OAuth2 against a real authorization
server on 127.0.0.1: panva/oidc-provider (node), with a client credentials client (client_secret_basic),
a SMART Backend Services client (private_key_jwt, RS384, its public key registered as a JWKS) and JWT
access tokens for the FHIR server that live 10 seconds.

The FHIR server is a threaded HTTP receiver that verifies every request as a resource server does: the
bearer token's signature against the provider's published keys, its issuer, audience (this server),
expiry (no leeway), client and scope, and the Standard Webhooks signature as well; it answers 401 to
what fails. Each scenario has an endpoint of its own in the endpoint file (its own token cache), chosen by
a rule id only this module publishes, and its own patients.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from carepath_tools.devstack import Service
from notifier.dead_letters import TOPIC as NOTIFICATIONS_DLQ
from tests.conftest import BrokerInfo
from tests.integration.test_notifier import SECRET, escalation, patient, publish, write_config
from tests.integration.test_notifier import start_notifier as notifier_process
from tests.support.bearer import AccessTokens
from tests.support.oidc_provider import MachineClients, Provider, provider
from tests.support.topics import TopicReader
from tests.support.webhook import Received, Receiver, for_subject

pytestmark = pytest.mark.integration

TTL_S = 10
SCOPE = "system/*.write"
CC_CLIENT = "carepath-notifier"
CC_SECRET = "oauth2-test-client-secret-" + uuid.uuid4().hex
SMART_CLIENT = "carepath-notifier-smart"
KID = "carepath-smart-test-key"
RULES = {  # endpoint -> the rule id routed to it
    "fhir-cache": "OAUTH-CACHE",
    "fhir-expiry": "OAUTH-EXPIRY",
    "fhir-revoked": "OAUTH-401",
    "fhir-smart": "OAUTH-SMART",
    "fhir-refused": "OAUTH-REFUSED",
}


@dataclass
class Hospital:
    fhir: Receiver
    tokens: AccessTokens
    idp: Provider
    notifier: Service

    def deliveries(self, p: str) -> list[Received]:
        return self.fhir.matching(for_subject(p))

    def claims(self, r: Received) -> dict[str, Any]:
        assert r.bearer is not None
        return self.tokens.claims(r.bearer) if r.authorized else {}

    def token_requests(self, endpoint: str, outcome: str) -> float:
        text = httpx.get(f"{self.notifier.url}/metrics", timeout=5).text
        series = f'carepath_notifier_token_requests_total{{endpoint="{endpoint}",outcome="{outcome}"}} '
        return sum(float(line.removeprefix(series)) for line in text.splitlines() if line.startswith(series))


def oauth2_endpoint(name: str, url: str, oauth2: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "url": url,
        "secret_env": "NOTIFIER_TEST_SECRET",
        "format": "fhir",
        "receive": {"escalations": {"rules": [RULES[name]]}},
        "oauth2": oauth2,
        **extra,
    }


@pytest.fixture(scope="module")
def hospital(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hospital]:
    folder = tmp_path_factory.mktemp("notifier-oauth2")
    smart_key = RSAKey.generate_key(2048)
    key_file = folder / "smart-key.pem"
    key_file.write_bytes(smart_key.as_pem(private=True))
    key_file.chmod(0o600)
    public = smart_key.as_dict(private=False) | {"kid": KID, "alg": "RS384", "use": "sig"}
    fhir = Receiver(secret=SECRET).start()
    resource = fhir.url  # the FHIR server's base URL: the audience of its tokens
    clients = MachineClients(
        resource=resource,
        scope=f"{SCOPE} system/*.read",
        access_token_ttl_s=TTL_S,
        cc_client_id=CC_CLIENT,
        cc_client_secret=CC_SECRET,
        smart_client_id=SMART_CLIENT,
        smart_jwks={"keys": [public]},
        smart_alg="RS384",
    )
    try:
        with provider([], folder / "oidc-provider.log", clients) as idp:
            discovery = httpx.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=5).json()
            assert (discovery["token_endpoint"], discovery["jwks_uri"]) == (idp.token_url, idp.jwks_uri)
            tokens = AccessTokens(
                issuer=idp.issuer,
                jwks_uri=idp.jwks_uri,
                audience=resource,
                clients=frozenset({CC_CLIENT, SMART_CLIENT}),
                scope=SCOPE,
            )
            fhir.bearer = tokens
            secret = {"token_url": idp.token_url, "client_id": CC_CLIENT, "scope": SCOPE}
            config = write_config(
                folder / "endpoints.yaml",
                [
                    oauth2_endpoint(
                        "fhir-cache", fhir.url, secret | {"client_secret_env": "FHIR_CLIENT_SECRET"}
                    ),
                    oauth2_endpoint(
                        "fhir-expiry", fhir.url, secret | {"client_secret_env": "FHIR_CLIENT_SECRET"}
                    ),
                    oauth2_endpoint(
                        "fhir-revoked", fhir.url, secret | {"client_secret_env": "FHIR_CLIENT_SECRET"}
                    ),
                    oauth2_endpoint(
                        "fhir-smart",
                        fhir.url,
                        {
                            "token_url": idp.token_url,
                            "client_id": SMART_CLIENT,
                            "private_key_file": str(key_file),
                            "kid": KID,
                            "scope": SCOPE,
                        },
                    ),
                    oauth2_endpoint(
                        "fhir-refused",
                        fhir.url,
                        secret | {"client_secret_env": "FHIR_WRONG_CLIENT_SECRET"},
                        retry={"attempts": 2, "base_s": 0.2, "cap_s": 0.5},
                    ),
                ],
            )
            notifier = start_notifier(broker, config, folder)
            try:
                yield Hospital(fhir, tokens, idp, notifier)
            finally:
                notifier.stop()
    finally:
        fhir.stop()


def start_notifier(broker: BrokerInfo, config: Path, folder: Path) -> Service:
    secrets = {
        "FHIR_CLIENT_SECRET": CC_SECRET,
        "FHIR_WRONG_CLIENT_SECRET": "not-the-secret-the-authorization-server-holds",
    }
    return notifier_process(
        broker, config, folder, f"notifier-oauth2-{uuid.uuid4().hex[:6]}", "notifier-oauth2", secrets
    )


def send(broker: BrokerInfo, p: str, endpoint: str, count: int = 1) -> list[dict[str, Any]]:
    events = [escalation(p, severity="urgent", rule=RULES[endpoint]) for _ in range(count)]
    publish(broker.bootstrap, *events)
    return events


def test_a_client_credentials_token_is_obtained_presented_and_reused_across_deliveries(
    broker: BrokerInfo, hospital: Hospital
) -> None:
    p = patient()
    events = send(broker, p, "fhir-cache", count=3)
    delivered = hospital.fhir.wait_for(for_subject(p), count=3, timeout=30)
    assert sorted(r.key for r in delivered) == sorted(e["id"] for e in events)
    assert hospital.deliveries(p) == delivered  # nothing refused first
    assert all(r.authorized and r.verified for r in delivered)  # bearer token and Standard Webhooks
    assert len({r.bearer for r in delivered}) == 1  # one token for the three
    claims = hospital.claims(delivered[0])
    assert claims["client_id"] == CC_CLIENT and claims["aud"] == hospital.fhir.url
    assert claims["iss"] == hospital.idp.issuer and claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == TTL_S
    assert hospital.token_requests("fhir-cache", "issued") == 1


def test_a_token_is_fetched_again_before_it_expires_and_never_presented_expired(
    broker: BrokerInfo, hospital: Hospital
) -> None:
    p = patient()
    send(broker, p, "fhir-expiry")
    [first] = hospital.fhir.wait_for(for_subject(p), timeout=30)
    first_claims = hospital.claims(first)
    # past the notifier's refresh point (80% of the life, counted from when it asked) with the token still valid
    time.sleep(max(0.0, first_claims["iat"] + 0.92 * TTL_S - time.time()))
    send(broker, p, "fhir-expiry")
    second = hospital.fhir.wait_for(for_subject(p), count=2, timeout=30)[1]
    second_claims = hospital.claims(second)
    assert second.bearer != first.bearer and second_claims["iat"] > first_claims["iat"]
    # and once the second token has expired
    time.sleep(max(0.0, second_claims["exp"] + 1 - time.time()))
    send(broker, p, "fhir-expiry")
    third = hospital.fhir.wait_for(for_subject(p), count=3, timeout=30)[2]
    assert third.bearer not in (first.bearer, second.bearer)
    assert [r.status for r in hospital.deliveries(p)] == [200, 200, 200]  # no expired token was presented
    assert hospital.token_requests("fhir-expiry", "issued") == 3


def test_a_401_is_answered_by_one_new_token_and_one_retry(broker: BrokerInfo, hospital: Hospital) -> None:
    p = patient()
    send(broker, p, "fhir-revoked")
    [first] = hospital.fhir.wait_for(for_subject(p), timeout=30)
    assert first.bearer is not None
    hospital.tokens.revoke(first.bearer)  # the FHIR server no longer takes it; the notifier does not know
    [event] = send(broker, p, "fhir-revoked")
    hospital.fhir.wait_for(for_subject(p), count=2, timeout=30)
    time.sleep(1)  # nothing more arrives
    refused, retried = hospital.deliveries(p)[1:]
    assert (refused.status, refused.bearer) == (401, first.bearer)
    assert retried.status == 200 and retried.authorized and retried.bearer != first.bearer
    assert refused.key == retried.key == event["id"]  # the same notification, in the same attempt
    assert (
        refused.headers["x-carepath-delivery-attempt"]
        == retried.headers["x-carepath-delivery-attempt"]
        == "1"
    )
    assert hospital.token_requests("fhir-revoked", "issued") == 2


def test_a_smart_backend_services_client_logs_in_with_a_signed_assertion(
    broker: BrokerInfo, hospital: Hospital
) -> None:
    p = patient()
    send(broker, p, "fhir-smart", count=2)
    delivered = hospital.fhir.wait_for(for_subject(p), count=2, timeout=30)
    assert hospital.deliveries(p) == delivered and all(r.authorized for r in delivered)
    assert len({r.bearer for r in delivered}) == 1
    claims = hospital.claims(delivered[0])
    assert claims["client_id"] == SMART_CLIENT and claims["sub"] == SMART_CLIENT  # the assertion was accepted
    assert hospital.token_requests("fhir-smart", "issued") == 1


def test_a_token_endpoint_refusing_the_client_is_retried_then_dead_lettered_with_its_reason(
    broker: BrokerInfo, hospital: Hospital
) -> None:
    p = patient()
    reader = TopicReader(broker.bootstrap, NOTIFICATIONS_DLQ)
    [event] = send(broker, p, "fhir-refused")
    [letter] = reader.wait_for(lambda r: r.get("event_id") == event["id"], timeout=30)
    reader.close()
    assert letter["endpoint"] == "fhir-refused" and letter["attempts"] == 2
    assert letter["last_error"] == (
        f"OAuth2 token: token endpoint {hospital.idp.token_url} refused the request: HTTP 401 invalid_client"
    )
    assert hospital.deliveries(p) == []  # nothing reached the FHIR server without a token
    assert hospital.token_requests("fhir-refused", "refused") == 2


def test_no_token_secret_or_assertion_is_in_the_notifiers_log_or_metrics(
    broker: BrokerInfo, hospital: Hospital
) -> None:
    p = patient()
    send(broker, p, "fhir-cache")
    hospital.fhir.wait_for(for_subject(p), timeout=30)
    presented = {r.bearer for r in hospital.fhir if r.bearer}
    assert presented
    log = hospital.notifier.log_path.read_text()
    metrics = httpx.get(f"{hospital.notifier.url}/metrics", timeout=5).text
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any(line.get("event") == "oauth2 token obtained" for line in lines)  # the log does speak of tokens
    assert any(line.get("event") == "oauth2 token not obtained" for line in lines)
    for text in (log, metrics):
        assert not any(token in text for token in presented)
        assert CC_SECRET not in text
        assert "eyJ" not in text  # no JWT at all: access tokens and client assertions are JWTs
        assert "BEGIN PRIVATE KEY" not in text and "client_assertion=" not in text
