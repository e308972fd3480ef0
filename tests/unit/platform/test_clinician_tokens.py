"""A clinician's token is checked as a resource server must check it: the signature with one of the
identity provider's keys (RS256, PS256 or ES256 only), the issuer, the audience and the validity window,
with each refusal named. Keys generated here, signed here: the pure check (:func:`verify`) and the key
cache (:class:`IssuerKeys`, its provider answering through an in-memory transport)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from carepath.clinician_tokens import (
    IssuerKeys,
    KeysUnavailable,
    TokenRefused,
    Verifier,
    roles_in,
    unverified_claims,
    verify,
)

pytestmark = pytest.mark.unit

ISSUER = "https://login.hospital.test/realms/staff"
AUDIENCE = "https://intake.hospital.test"
ROLES = frozenset({"acute_oncology", "consultant", "nurse", "mscc_coordinator"})
NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})  # same kid, another key
EC = ECKey.generate_key("P-256", parameters={"kid": "ec1"})


def jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


PUBLISHED = KeySet.import_key_set(jwks(KEY, EC))


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "7f1c9a2e-staff",
        "name": "Sam Jones",
        "exp": NOW + 300,
        "iat": NOW - 10,
        "client_id": "carepath-worklist",
        "carepath_roles": ["acute_oncology", "nurse"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256", **header: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid, **header}, payload, key, algorithms=[alg])


def check(token: str, keys: KeySet = PUBLISHED, **kwargs: Any) -> Any:
    return verify(token, keys, issuer=ISSUER, audience=AUDIENCE, known_roles=ROLES, now=NOW, **kwargs)


def refusal(token: str, keys: KeySet = PUBLISHED) -> str:
    with pytest.raises(TokenRefused) as refused:
        check(token, keys)
    assert not token or token not in refused.value.detail  # never quoted back
    return refused.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_good_token_names_the_clinician_their_roles_and_the_client() -> None:
    found = check(signed(claims()))
    assert found.subject == "7f1c9a2e-staff" and found.name == "Sam Jones" and found.issuer == ISSUER
    assert found.roles == ("acute_oncology", "nurse") and found.client == "carepath-worklist"
    assert check(signed(claims(), EC, "ES256")).subject == "7f1c9a2e-staff"
    assert check(signed(claims(), KEY, "PS256")).roles == ("acute_oncology", "nurse")
    assert check(signed(claims(aud=["https://other.example", AUDIENCE]))).subject  # one audience of several


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": NOW - 61}, "expired"),  # past the 60 s leeway
        ({"exp": None}, "claims"),
        ({"nbf": NOW + 120}, "not_yet_valid"),
        ({"iss": "https://login.elsewhere.test"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"aud": "carepath-worklist"}, "audience"),  # a token for the page (an ID token), not for intake
        ({"aud": ["https://other.example"]}, "audience"),
        ({"aud": None}, "audience"),
        ({"sub": None}, "claims"),
        ({"sub": ""}, "claims"),
        ({"sub": "x" * 256}, "claims"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_token_outside_its_claims_is_refused_naming_why(changes: dict[str, Any], reason: str) -> None:
    assert refusal(signed(claims(**changes))) == reason


def test_clock_skew_within_the_leeway_is_accepted() -> None:
    assert check(signed(claims(exp=NOW - 59, nbf=NOW + 59))).subject


def test_a_token_signed_with_another_key_under_the_same_kid_is_refused() -> None:
    assert refusal(signed(claims(), OTHER)) == "signature"


def test_a_key_the_provider_does_not_publish_is_an_unknown_key() -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k9"})
    assert refusal(signed(claims(), stranger)) == "unknown_key"


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    unsigned = f"{header}.{b64(json.dumps(claims()).encode())}."
    assert refusal(unsigned) == "algorithm"


def test_hs256_with_the_providers_public_key_as_the_secret_is_refused() -> None:
    """The classic confusion: a verifier that lets the token pick HMAC would check it with the public key
    as the shared secret, which anyone can do."""
    secret = KEY.as_pem(private=False)
    head = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    assert refusal(f"{head}.{body}.{mac}") == "algorithm"


@pytest.mark.parametrize("alg", ["HS256", "RS384", "ES512", "EdDSA"])
def test_only_rs256_ps256_and_es256(alg: str) -> None:
    head = b64(json.dumps({"alg": alg, "kid": "k1"}).encode())
    token = f"{head}.{b64(json.dumps(claims()).encode())}.{b64(b'x' * 64)}"
    assert refusal(token) == "algorithm"


def test_a_token_of_another_type_is_refused() -> None:
    assert refusal(signed(claims(), typ="logout+jwt")) == "malformed"
    assert check(signed(claims(), typ="at+jwt")).subject  # RFC 9068 access tokens pass


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b", "a.b.c.d", "e30.e30.!!", "x" * 20_000])
def test_what_is_not_a_jwt_is_malformed(token: str) -> None:
    assert refusal(token) == "malformed"


def test_roles_are_the_carepath_roles_the_claim_names() -> None:
    assert roles_in({"r": ["nurse", "porter", "nurse", "consultant"]}, "r", ROLES) == ("nurse", "consultant")
    assert roles_in({"r": "consultant nurse"}, "r", ROLES) == ("consultant", "nurse")
    assert roles_in({"r": "consultant,nurse"}, "r", ROLES) == ("consultant", "nurse")
    assert roles_in({"realm_access": {"roles": ["nurse"]}}, "realm_access.roles", ROLES) == ("nurse",)
    assert roles_in(
        {"https://hospital.test/roles": ["gp", "nurse"]}, "https://hospital.test/roles", ROLES
    ) == ("nurse",)
    assert roles_in({"r": 3}, "r", ROLES) == () and roles_in({}, "r", ROLES) == ()
    assert check(signed(claims(carepath_roles="porter"))).roles == ()


def test_the_unverified_payload_is_for_showing_only() -> None:
    token = signed(claims())
    assert unverified_claims(token)["sub"] == "7f1c9a2e-staff"
    assert unverified_claims("not.a.jwt") == {} and unverified_claims("x") == {}


# --- the provider's keys ------------------------------------------------------------------------------


class Provider:
    """A discovery document and a JWKS, answered in memory; what it publishes can change."""

    def __init__(self, published: dict[str, Any], issuer: str = ISSUER) -> None:
        self.published = published
        self.issuer = issuer
        self.asked: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        if self.down:
            return httpx.Response(503)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": self.issuer, "jwks_uri": f"{ISSUER}/certs"})
        return httpx.Response(200, json=self.published)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def verifier(provider: Provider, clock: Clock) -> Verifier:
    keys = IssuerKeys(ISSUER, transport=httpx.MockTransport(provider), clock=clock)
    return Verifier(keys, AUDIENCE, ROLES)


def live_claims() -> dict[str, Any]:
    return claims(exp=int(time.time()) + 300, iat=int(time.time()))


def test_keys_are_read_through_discovery_and_held() -> None:
    provider, clock = Provider(jwks(KEY)), Clock()
    v = verifier(provider, clock)
    token = signed(live_claims())
    for _ in range(3):
        assert asyncio.run(v.clinician(token)).subject == "7f1c9a2e-staff"
    assert provider.asked == ["/realms/staff/.well-known/openid-configuration", "/realms/staff/certs"]
    clock.t += 3601  # older than an hour: read again
    asyncio.run(v.clinician(token))
    assert len(provider.asked) == 4


def test_a_rotated_key_is_found_by_reading_the_keys_again_once() -> None:
    provider, clock = Provider(jwks(KEY)), Clock()
    v = verifier(provider, clock)
    asyncio.run(v.clinician(signed(live_claims())))
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    provider.published = jwks(KEY, rotated)
    clock.t += 11
    assert asyncio.run(v.clinician(signed(live_claims(), rotated))).subject
    assert v.keys.fetches == 2


def test_unknown_key_ids_do_not_make_intake_hammer_the_provider() -> None:
    provider, clock = Provider(jwks(KEY)), Clock()
    v = verifier(provider, clock)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k9"})
    for _ in range(5):
        with pytest.raises(TokenRefused) as refused:
            asyncio.run(v.clinician(signed(live_claims(), stranger)))
        assert refused.value.reason == "unknown_key"
    assert v.keys.fetches == 1  # read once at first; not again within 10 s
    clock.t += 11
    with pytest.raises(TokenRefused):
        asyncio.run(v.clinician(signed(live_claims(), stranger)))
    assert v.keys.fetches == 2


def test_a_discovery_document_naming_another_issuer_gives_no_keys() -> None:
    v = verifier(Provider(jwks(KEY), issuer="https://login.elsewhere.test"), Clock())
    with pytest.raises(KeysUnavailable):
        asyncio.run(v.clinician(signed(live_claims())))


def test_held_keys_outlive_a_provider_that_stops_answering() -> None:
    provider, clock = Provider(jwks(KEY)), Clock()
    v = verifier(provider, clock)
    token = signed(live_claims())
    asyncio.run(v.clinician(token))
    provider.down = True
    clock.t += 3601
    assert asyncio.run(v.clinician(token)).subject  # the keys held are kept
    fresh = verifier(provider, Clock())
    with pytest.raises(KeysUnavailable):  # none held: the token cannot be checked now
        asyncio.run(fresh.clinician(token))


def test_keys_for_encryption_and_of_other_types_are_not_signing_keys() -> None:
    published = {"keys": [KEY.as_dict(private=False) | {"use": "enc"}, {"kty": "oct", "k": "c2VjcmV0"}]}
    with pytest.raises(KeysUnavailable):
        asyncio.run(verifier(Provider(published), Clock()).clinician(signed(live_claims())))
