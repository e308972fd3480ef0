"""A real OpenID Connect provider for the worklist's login tests: panva/oidc-provider (OpenID Certified),
pinned in tests/support/oidc/package-lock.json and installed by ``make oidc-provider`` (``npm ci``), run
with node on a free loopback port. Its development sign-in form takes any login and password.

Given :class:`MachineClients` it is also the authorization server of the notifier's OAuth2 tests: a client
credentials client with a secret, a SMART Backend Services client with a public key (private_key_jwt), and
JWT access tokens for one resource (a FHIR server's base URL) with a short lifetime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from carepath_tools.broker import free_port
from carepath_tools.processes import terminate, track

HERE = Path(__file__).parent / "oidc"
CLIENT_ID = "carepath-worklist"
CLIENT_SECRET = "test-client-secret-at-least-32-characters"


@dataclass(frozen=True)
class MachineClients:
    """The clients a FHIR server's authorization server registers for carepath's notifier."""

    resource: str  # the resource server (a FHIR base URL): the audience of every access token
    scope: str  # the scopes the resource server grants, space-separated
    access_token_ttl_s: int
    cc_client_id: str
    cc_client_secret: str
    smart_client_id: str
    smart_jwks: dict[str, Any]  # the SMART client's public keys
    smart_alg: str = "RS384"

    def env(self) -> dict[str, str]:
        return {
            "OIDC_RESOURCE": self.resource,
            "OIDC_RESOURCE_SCOPE": self.scope,
            "OIDC_ACCESS_TOKEN_TTL": str(self.access_token_ttl_s),
            "OIDC_CC_CLIENT_ID": self.cc_client_id,
            "OIDC_CC_CLIENT_SECRET": self.cc_client_secret,
            "OIDC_SMART_CLIENT_ID": self.smart_client_id,
            "OIDC_SMART_JWKS": json.dumps(self.smart_jwks),
            "OIDC_SMART_ALG": self.smart_alg,
        }


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"


@contextmanager
def provider(
    redirect_uris: list[str],
    log_path: Path,
    machine: MachineClients | None = None,
    api_resource: str | None = None,
) -> Iterator[Provider]:
    """``api_resource``: intake's audience; the worklist client may then ask for a JWT access token for it
    (a resource indicator) carrying the account's carepath roles (provider.mjs says how they are read from
    the login)."""
    node = shutil.which("node")
    assert node, "node is needed for the OpenID Connect provider: make sysdeps installs it"
    assert (HERE / "node_modules" / "oidc-provider").is_dir(), (
        "the OpenID Connect provider is not installed: run make oidc-provider (npm ci in tests/support/oidc)"
    )
    port = free_port()
    env = os.environ | {
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
    }
    if machine is not None:
        env |= machine.env()
    if api_resource is not None:
        env["OIDC_API_RESOURCE"] = api_resource
    with open(log_path, "ab") as log:
        proc = track(
            subprocess.Popen([node, "provider.mjs"], cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
        )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"the OpenID Connect provider exited: {log_path.read_text()[-2000:]}"
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the OpenID Connect provider did not start in 20 s"
            time.sleep(0.1)
        yield Provider(issuer)
    finally:
        terminate(proc, 5)
