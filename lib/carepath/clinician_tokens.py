"""A clinician's own token: a JWT from the hospital's identity provider, checked against its published keys.

intake accepts an acknowledgement from a clinician's token (the worklist page forwards the access token it
got when the clinician logged in) and records who it names, verified. :func:`verify` is the whole check,
pure: the signature with one of the provider's keys (RS256, PS256 or ES256 only: never ``none``, never a
shared-secret HS* algorithm, whatever the token's header says), then ``iss`` (exactly the configured
issuer), ``aud`` (the configured audience, alone or among others), ``exp`` (required) and ``nbf``/``iat``
with :data:`LEEWAY_S` of clock skew, and a ``sub``. The roles are the carepath roles the role claim names
(:func:`roles_in`); any other value there is not carepath's and is ignored.

:class:`IssuerKeys` holds the provider's keys: read from the ``jwks_uri`` its discovery document names
(``<issuer>/.well-known/openid-configuration``, whose ``issuer`` must be the configured one), kept for
:data:`KEYS_MAX_AGE_S`, and read again once when a token names a key not held (the provider rotated its
keys), at most every :data:`MIN_REFRESH_S`, so a stream of forged key ids cannot make intake hammer the
provider. :class:`Verifier` puts the two together.

A refusal is a :class:`TokenRefused` with a bounded reason (``REASONS``, a metric label) and words for the
caller; it never quotes the token. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet

from carepath import logs

ALGORITHMS: Final = ("RS256", "PS256", "ES256")
LEEWAY_S: Final = 60
ROLE_CLAIM: Final = "carepath_roles"
MAX_TOKEN_BYTES: Final = 16 * 1024
KEYS_MAX_AGE_S: Final = 3600.0
MIN_REFRESH_S: Final = 10.0
FETCH_TIMEOUT_S: Final = 5.0
SUBJECT_MAX: Final = 255
NAME_MAX: Final = 200
REASONS: Final = (
    "malformed",  # not a JWT, too large, or a header or payload that is not JSON
    "algorithm",  # none, HS*, or any algorithm but RS256, PS256 and ES256
    "unknown_key",  # no key of the provider's has the token's kid, even after reading the keys again
    "signature",
    "issuer",
    "audience",
    "expired",
    "not_yet_valid",
    "claims",  # no sub, or a claim of the wrong type
)
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_ACCEPTED_TYP = frozenset({"jwt", "at+jwt", "application/at+jwt"})
_CLIENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$")
_log = logs.get("carepath.clinician_tokens")


@dataclass(frozen=True)
class Clinician:
    """Who a verified token names."""

    subject: str  # the provider's sub
    issuer: str
    roles: tuple[str, ...]  # the carepath roles of the role claim, in its order
    name: str | None = None
    client: str | None = None  # the client the token was issued to (client_id, else azp), when well formed


class TokenRefused(Exception):
    """The token is not accepted; ``reason`` is one of REASONS, ``detail`` says why in words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail


class KeysUnavailable(Exception):
    """The provider's keys could not be read (and none are held): the token cannot be checked now."""


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts separated by dots (a JWS in compact form): worth checking as a clinician's."""
    parts = token.split(".")
    return (
        len(token) <= MAX_TOKEN_BYTES
        and len(parts) == 3
        and all(_B64URL.match(p) for p in parts[:2])
        and (not parts[2] or _B64URL.match(parts[2]) is not None)
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT *without checking it*: for showing a user what their own token says (the roles
    the worklist page offers). Never a basis for trusting anything: intake verifies. {} when unreadable."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > MAX_TOKEN_BYTES:
        return {}
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def roles_in(claims: Mapping[str, Any], claim: str, known: Collection[str]) -> tuple[str, ...]:
    """The carepath roles (``known``) the role claim names, in its order, once each. The claim is a list of
    strings or one string (space- or comma-separated); a claim name with dots that is not itself a claim
    is a path into nested objects (``realm_access.roles``). Values that are not carepath roles are ignored."""
    value: Any = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    else:
        items = []
    return tuple(dict.fromkeys(v for v in items if v in known))


def verify(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    known_roles: Collection[str],
    role_claim: str = ROLE_CLAIM,
    now: int | None = None,
    leeway: int = LEEWAY_S,
) -> Clinician:
    """The clinician ``token`` names, once its signature and claims hold; else :class:`TokenRefused`."""
    if not looks_like_jwt(token):
        raise TokenRefused("malformed", "the bearer token is not a JWT")
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError):
        raise TokenRefused("malformed", "the token's header cannot be read") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise TokenRefused(
            "algorithm", f"the token is signed with {str(alg)[:20]!r}; accepted: {', '.join(ALGORITHMS)}"
        )
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYP):
        raise TokenRefused("malformed", f"a token of type {str(typ)[:30]!r} is not an access token")
    try:
        decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
    except InvalidKeyIdError:
        raise TokenRefused(
            "unknown_key", "the token names a key the identity provider does not publish"
        ) from None
    except UnsupportedAlgorithmError:
        raise TokenRefused("algorithm", f"accepted algorithms: {', '.join(ALGORITHMS)}") from None
    except BadSignatureError:
        raise TokenRefused(
            "signature", "the token's signature does not verify with the provider's keys"
        ) from None
    except (JoseError, ValueError) as exc:  # a key of the wrong type for the algorithm, an unreadable payload
        raise TokenRefused("signature", f"the token cannot be verified ({type(exc).__name__})") from None
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time()) if now is None else now,
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise TokenRefused("expired", "the token has expired: log in again") from None
    except ClaimError as exc:
        raise _claim_refusal(exc) from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX or not subject.isprintable():
        raise TokenRefused("claims", f"sub must be 1-{SUBJECT_MAX} printable characters")
    name = claims.get("name")
    client = claims.get("client_id") or claims.get("azp")
    return Clinician(
        subject=subject,
        issuer=issuer,
        roles=roles_in(claims, role_claim, known_roles),
        name=_bounded_name(name),
        client=client if isinstance(client, str) and _CLIENT.match(client) else None,
    )


def _claim_refusal(exc: ClaimError) -> TokenRefused:
    claim = exc.claim
    if claim == "iss":
        return TokenRefused("issuer", "the token was not issued by the configured identity provider")
    if claim == "aud":
        return TokenRefused(
            "audience", "the token is not for intake (its aud does not name intake's audience)"
        )
    if claim == "nbf" and not isinstance(exc, MissingClaimError):
        return TokenRefused("not_yet_valid", "the token is not valid yet")
    what = "required" if isinstance(exc, MissingClaimError) else "not valid"
    return TokenRefused("claims", f"the token's {claim[:30]} claim is {what}")


def _bounded_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    flat = " ".join("".join(c if c.isprintable() else " " for c in value[: NAME_MAX * 2]).split())
    return flat[:NAME_MAX] or None


def discovery_url(issuer: str) -> str:
    """Where an issuer's OpenID Connect discovery document is (OpenID Connect Discovery 1.0, section 4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class IssuerKeys:
    """The identity provider's signing keys, read through its discovery document and held."""

    def __init__(
        self,
        issuer: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_age_s: float = KEYS_MAX_AGE_S,
        min_refresh_s: float = MIN_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.transport = transport
        self.max_age_s = max_age_s
        self.min_refresh_s = min_refresh_s
        self.clock = clock
        self.fetches = 0  # how many times the keys were read (tests, and the metric)
        self._keys: KeySet | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> KeySet:
        """The keys held, read first when none are held or they are older than ``max_age_s``; when reading
        them again fails, the keys held are kept (and the failure logged). :class:`KeysUnavailable` when
        there are none."""
        if self._keys is not None and self.clock() - self._read_at < self.max_age_s:
            return self._keys
        async with self._lock:
            if self._keys is None or self.clock() - self._read_at >= self.max_age_s:
                await self._read(keep_on_failure=True)
        assert self._keys is not None
        return self._keys

    async def renewed(self) -> KeySet | None:
        """The keys read again (a token named a key not held), unless they were read less than
        ``min_refresh_s`` ago or cannot be read now: then None."""
        async with self._lock:
            if self.clock() - self._read_at < self.min_refresh_s:
                return None
            try:
                await self._read(keep_on_failure=False)
            except KeysUnavailable:
                return None
            return self._keys

    async def _read(self, *, keep_on_failure: bool) -> None:
        self._read_at = self.clock()  # a failed read counts too: it is not tried again at once
        self.fetches += 1
        try:
            self._keys = await self._fetch()
        except KeysUnavailable as exc:
            _log.warning("identity_provider_keys_unreadable", reason=str(exc), held=self._keys is not None)
            if self._keys is None or not keep_on_failure:
                raise

    async def _fetch(self) -> KeySet:
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, transport=self.transport) as client:
                config = await _json(client, discovery_url(self.issuer))
                if config.get("issuer") != self.issuer:
                    raise KeysUnavailable("the discovery document names another issuer")
                jwks_uri = config.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                    raise KeysUnavailable("the discovery document names no jwks_uri")
                if self.issuer.startswith("https://") and not jwks_uri.startswith("https://"):
                    raise KeysUnavailable("the jwks_uri of an https issuer must be https")
                document = await _json(client, jwks_uri)
        except httpx.HTTPError as exc:
            raise KeysUnavailable(f"the identity provider did not answer ({type(exc).__name__})") from None
        return signing_keys(document)


def signing_keys(document: Mapping[str, Any]) -> KeySet:
    """The RSA and EC signing keys of a JWKS (keys for encryption, and key types carepath does not accept,
    are left out); :class:`KeysUnavailable` when there are none or they cannot be read."""
    listed = document.get("keys")
    if not isinstance(listed, list):
        raise KeysUnavailable("the JWKS has no keys")
    usable = [
        k
        for k in listed
        if isinstance(k, dict) and k.get("kty") in ("RSA", "EC") and k.get("use", "sig") == "sig"
    ]
    if not usable:
        raise KeysUnavailable("the JWKS has no RSA or EC signing key")
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError) as exc:
        raise KeysUnavailable(f"the JWKS cannot be read ({type(exc).__name__})") from None


async def _json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    answer = await client.get(url, headers={"Accept": "application/json"})
    if answer.status_code != 200:
        raise KeysUnavailable(f"the identity provider answered {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        raise KeysUnavailable("the identity provider answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise KeysUnavailable("the identity provider answered something that is not a JSON object")
    return body


@dataclass
class Verifier:
    """Checks clinicians' tokens for one issuer and audience (intake's ``CAREPATH_INTAKE_OIDC_*``)."""

    keys: IssuerKeys
    audience: str
    known_roles: frozenset[str]
    role_claim: str = ROLE_CLAIM
    leeway: int = LEEWAY_S

    async def clinician(self, token: str) -> Clinician:
        """The clinician ``token`` names; :class:`TokenRefused`, or :class:`KeysUnavailable` when the
        provider's keys cannot be read at all. A token naming a key not held has the keys read again once."""
        if not looks_like_jwt(token):
            raise TokenRefused("malformed", "the bearer token is not a JWT")
        try:
            return self._verify(token, await self.keys.current())
        except TokenRefused as refused:
            if refused.reason != "unknown_key":
                raise
        renewed = await self.keys.renewed()
        if renewed is None:
            raise TokenRefused("unknown_key", "the token names a key the identity provider does not publish")
        return self._verify(token, renewed)

    def _verify(self, token: str, keys: KeySet) -> Clinician:
        return verify(
            token,
            keys,
            issuer=self.keys.issuer,
            audience=self.audience,
            known_roles=self.known_roles,
            role_claim=self.role_claim,
            leeway=self.leeway,
        )
