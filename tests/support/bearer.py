"""What a FHIR server does with the bearer token of a request, for the notifier's OAuth2 tests.

The token must be a JWT access token (RFC 9068, ``typ`` ``at+jwt``) signed by the authorization server's
keys (fetched from its ``jwks_uri``, as a resource server does), issued by it, for this server (``aud``),
not expired (no leeway), for a known client and with the scope the server needs. A token whose ``jti``
the server has revoked is refused as well: :meth:`AccessTokens.revoke` is how a test makes a valid token
fail, as a server that has revoked it or lost its session would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


@dataclass
class AccessTokens:
    issuer: str
    jwks_uri: str
    audience: str
    clients: frozenset[str]
    scope: str  # the scope a request needs
    revoked: set[str] = field(default_factory=set)  # jti
    refused: list[str] = field(default_factory=list)  # why each refused request was refused
    _keys: KeySet | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> KeySet:
        with self._lock:
            if self._keys is None:
                self._keys = KeySet.import_key_set(httpx.get(self.jwks_uri, timeout=5).json())
            return self._keys

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once every check passes; raises ValueError saying which did not."""
        try:
            decoded = jwt.decode(token, self.keys(), algorithms=["RS256", "PS256", "ES256"])
        except (JoseError, ValueError) as exc:
            raise ValueError(f"signature: {type(exc).__name__}") from None
        if decoded.header.get("typ") != "at+jwt":
            raise ValueError("not an access token")
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(time.time()),
            leeway=0,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            jti={"essential": True},
            client_id={"essential": True, "values": sorted(self.clients)},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise ValueError(f"claims: {exc.error}") from None
        if self.scope not in str(decoded.claims.get("scope", "")).split():
            raise ValueError("scope")
        if decoded.claims["jti"] in self.revoked:
            raise ValueError("revoked")
        return dict(decoded.claims)

    def __call__(self, token: str | None) -> bool:
        if token is None:
            self.refused.append("no token")
            return False
        try:
            self.claims(token)
        except ValueError as exc:
            self.refused.append(str(exc))
            return False
        return True

    def revoke(self, token: str) -> None:
        self.revoked.add(self.claims(token)["jti"])
