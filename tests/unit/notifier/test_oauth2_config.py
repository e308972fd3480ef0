"""An endpoint's ``oauth2`` block in the endpoint file: its credential by reference (an environment variable
or a file), checked at start-up, and refused naming the endpoint and key, never showing the credential."""

from __future__ import annotations

from pathlib import Path

import pytest
from joserfc.jwk import ECKey, RSAKey

from notifier.config import ConfigError, load_endpoints

pytestmark = pytest.mark.unit

HMAC = "h" * 40
CLIENT_SECRET = "the-client-secret-from-the-identity-provider"
CONFIG = """
endpoints:
  - name: fhir-server
    url: https://fhir.hospital.example/r4
    secret_env: FHIR_HMAC
    format: fhir
    receive:
      escalations: {}
    oauth2:
      token_url: https://login.hospital.example/oauth2/token
      client_id: carepath-notifier
"""
RSA_PEM = RSAKey.generate_key(2048).as_pem(private=True).decode()
EC_PEM = ECKey.generate_key("P-384").as_pem(private=True).decode()


def write(tmp_path: Path, oauth2_lines: str, config: str = CONFIG) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text(config + "".join(f"      {line}\n" for line in oauth2_lines.strip().splitlines()))
    return path


def refused(path: Path, env: dict[str, str], environment: str = "production") -> str:
    with pytest.raises(ConfigError) as caught:
        load_endpoints(path, environment, {"FHIR_HMAC": HMAC, **env})
    message = str(caught.value)
    assert CLIENT_SECRET not in message and "PRIVATE KEY" not in message
    return message


def test_a_client_secret_from_the_environment_with_basic_authentication_by_default(tmp_path: Path) -> None:
    path = write(
        tmp_path, "client_secret_env: FHIR_CLIENT_SECRET\nscope: system/Task.write  system/Flag.write"
    )
    [endpoint] = load_endpoints(path, "production", {"FHIR_HMAC": HMAC, "FHIR_CLIENT_SECRET": CLIENT_SECRET})
    oauth2 = endpoint.oauth2
    assert oauth2 is not None
    assert oauth2.token_url == "https://login.hospital.example/oauth2/token"
    assert oauth2.client_id == "carepath-notifier" and oauth2.auth_method == "client_secret_basic"
    assert oauth2.client_secret == CLIENT_SECRET and oauth2.scope == "system/Task.write system/Flag.write"
    assert oauth2.credential_ref == "client_secret_env FHIR_CLIENT_SECRET"
    assert CLIENT_SECRET not in repr(endpoint)


def test_a_client_secret_from_a_file_sent_in_the_form(tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")  # as a mounted Secret often ends
    path = write(
        tmp_path, f"client_secret_file: {secret_file}\ntoken_endpoint_auth_method: client_secret_post"
    )
    [endpoint] = load_endpoints(path, "production", {"FHIR_HMAC": HMAC})
    assert endpoint.oauth2 is not None
    assert (
        endpoint.oauth2.client_secret == CLIENT_SECRET and endpoint.oauth2.auth_method == "client_secret_post"
    )


@pytest.mark.parametrize(("pem", "alg"), [(RSA_PEM, "RS384"), (EC_PEM, "ES384")])
def test_a_private_key_signs_with_the_smart_algorithm_of_its_type(tmp_path: Path, pem: str, alg: str) -> None:
    key_file = tmp_path / "smart.pem"
    key_file.write_text(pem)
    path = write(tmp_path, f"private_key_file: {key_file}\nkid: carepath-2025")
    [endpoint] = load_endpoints(path, "production", {"FHIR_HMAC": HMAC})
    oauth2 = endpoint.oauth2
    assert oauth2 is not None and oauth2.auth_method == "private_key_jwt"
    assert oauth2.alg == alg and oauth2.kid == "carepath-2025" and oauth2.private_key is not None
    assert "PRIVATE" not in repr(endpoint)
    path = write(tmp_path, f"private_key_env: SMART_KEY\nkid: k1\nalg: {alg}")
    [endpoint] = load_endpoints(path, "production", {"FHIR_HMAC": HMAC, "SMART_KEY": pem})
    assert endpoint.oauth2 is not None and endpoint.oauth2.alg == alg


def test_no_oauth2_block_means_no_bearer_token(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.yaml"
    path.write_text(CONFIG.split("    oauth2:")[0])
    assert load_endpoints(path, "production", {"FHIR_HMAC": HMAC})[0].oauth2 is None


@pytest.mark.parametrize(
    ("lines", "env", "named"),
    [
        (
            "client_secret_env: FHIR_CLIENT_SECRET",
            {},
            "client_secret_env FHIR_CLIENT_SECRET must hold the client secret",
        ),
        (
            "client_secret_env: FHIR_CLIENT_SECRET",
            {"FHIR_CLIENT_SECRET": "  "},
            "must hold the client secret",
        ),
        (
            "client_secret_file: /nonexistent/secret",
            {},
            "client_secret_file /nonexistent/secret cannot be read",
        ),
        (
            "private_key_env: SMART_KEY\nkid: k1",
            {"SMART_KEY": "not a key"},
            "must hold a PEM RSA or EC private key",
        ),
        (
            "private_key_env: SMART_KEY\nkid: k1",
            {"SMART_KEY": ECKey.generate_key("P-256").as_pem(private=True).decode()},
            "EC key on P-256; ES384 needs P-384",
        ),
        (
            "private_key_env: SMART_KEY\nkid: k1",
            {"SMART_KEY": RSAKey.generate_key(2048).as_pem(private=False).decode()},
            "holds a public key",
        ),
        ("private_key_env: SMART_KEY\nkid: k1\nalg: ES384", {"SMART_KEY": RSA_PEM}, "alg ES384 does not fit"),
        (
            "client_secret_env: FHIR_CLIENT_SECRET\ntoken_endpoint_auth_method: private_key_jwt",
            {"FHIR_CLIENT_SECRET": CLIENT_SECRET},
            "client_secret_basic or client_secret_post",
        ),
        (
            "private_key_env: SMART_KEY\nkid: k1\ntoken_endpoint_auth_method: client_secret_post",
            {"SMART_KEY": RSA_PEM},
            "for a private key is private_key_jwt",
        ),
    ],
)
def test_a_credential_that_cannot_be_used_stops_start_up_naming_its_reference(
    tmp_path: Path, lines: str, env: dict[str, str], named: str
) -> None:
    message = refused(write(tmp_path, lines), env)
    assert named in message and "endpoint fhir-server oauth2" in message


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        ("scope: system/*.write", "exactly one of client_secret_env, client_secret_file"),
        (
            "client_secret_env: A_SECRET\nclient_secret_file: /run/secret",
            "exactly one of client_secret_env, client_secret_file",
        ),
        ("private_key_env: SMART_KEY", "a private key with its kid"),
        ("client_secret_env: A_SECRET\nclient_secret: inline-secret", "unknown key 'client_secret'"),
        ("client_secret_env: a secret", "client_secret_env must name an environment variable"),
        (
            "private_key_env: SMART_KEY\nkid: k1\nalg: RS256",
            "oauth2.alg: 'RS256' is not one of ['RS384', 'ES384']",
        ),
    ],
)
def test_the_schema_refuses_a_block_that_is_not_one_credential_by_reference(
    tmp_path: Path, lines: str, named: str
) -> None:
    message = refused(write(tmp_path, lines), {})
    assert named in message and "notifier-endpoints.schema.json" in message


def test_the_token_url_must_be_https_in_production_unless_the_endpoint_says_insecure_http(
    tmp_path: Path,
) -> None:
    env = {"FHIR_CLIENT_SECRET": CLIENT_SECRET}
    plain = CONFIG.replace("https://login.hospital.example", "http://login.hospital.internal")
    path = write(tmp_path, "client_secret_env: FHIR_CLIENT_SECRET", plain)
    assert "token_url must use https in production" in refused(path, env)
    assert load_endpoints(path, "test", {"FHIR_HMAC": HMAC, **env})[0].oauth2 is not None
    explicit = plain.replace("format: fhir", "format: fhir\n    insecure_http: true")
    path = write(tmp_path, "client_secret_env: FHIR_CLIENT_SECRET", explicit)
    assert load_endpoints(path, "production", {"FHIR_HMAC": HMAC, **env})[0].oauth2 is not None


def test_development_has_no_fallback_for_a_client_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "client_secret_env: FHIR_CLIENT_SECRET")
    assert "must hold the client secret" in refused(path, {}, environment="development")
