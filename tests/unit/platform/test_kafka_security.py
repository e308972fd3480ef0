"""Kafka security settings: a half configuration is refused at start-up naming the variable; production
refuses unencrypted Kafka unless told otherwise; each client library gets the arguments it needs."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from carepath import kafka_security
from carepath.settings import CommonSettings, KafkaConnectionSettings
from tests.support.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in [k for k in os.environ if k.startswith("CAREPATH_KAFKA_")]:
        monkeypatch.delenv(key)


def conn(**given: Any) -> KafkaConnectionSettings:
    return KafkaConnectionSettings.model_validate(given)


def password_file(tmp_path: Path, value: str = "s3cret-from-a-mounted-secret\n") -> Path:
    p = tmp_path / "password"
    p.write_text(value)
    return p


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "CERT"}, "CAREPATH_KAFKA_SSL_KEYFILE"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "KEY"}, "CAREPATH_KAFKA_SSL_CERTFILE"),
        ({"kafka_ssl_cafile": "CA"}, "CAREPATH_KAFKA_SSL_CAFILE"),  # TLS file with PLAINTEXT
        ({"kafka_security_protocol": "SASL_SSL"}, "CAREPATH_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"},
            "CAREPATH_KAFKA_SASL_USERNAME",
        ),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": "SCRAM-SHA-512",
                "kafka_sasl_username": "carepath-triage",
            },
            "CAREPATH_KAFKA_SASL_PASSWORD_FILE",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "OAUTHBEARER"},
            "CAREPATH_KAFKA_SASL_OAUTH_TOKEN_FILE",
        ),
        ({"kafka_sasl_mechanism": "PLAIN"}, "CAREPATH_KAFKA_SASL_MECHANISM"),  # SASL with PLAINTEXT
    ],
)
def test_a_half_configuration_is_refused_naming_the_setting(
    given: dict[str, str], named: str, pki: Pki, clean_env: None
) -> None:
    files = {"CERT": pki.client_cert, "KEY": pki.client_key, "CA": pki.ca}
    given = {k: str(files.get(v, v)) for k, v in given.items()}
    with pytest.raises(ValidationError, match=named):
        conn(**given)


def test_a_file_that_cannot_be_read_is_refused_naming_it(tmp_path: Path, clean_env: None) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ValidationError, match=r"kafka_ssl_cafile[\s\S]*cannot read .*no-such-ca.pem"):
        conn(kafka_security_protocol="SSL", kafka_ssl_cafile=str(missing))
    with pytest.raises(ValidationError, match="kafka_sasl_password_file"):
        conn(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="u",
            kafka_sasl_password_file=str(tmp_path / "gone"),
        )


def test_an_empty_password_and_two_passwords_are_refused(tmp_path: Path, clean_env: None) -> None:
    base = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "PLAIN",
        "kafka_sasl_username": "u",
    }
    with pytest.raises(ValidationError, match="password is empty"):
        conn(**base, kafka_sasl_password_file=str(password_file(tmp_path, "\n")))
    with pytest.raises(ValidationError, match="exactly one of"):
        conn(**base, kafka_sasl_password="x", kafka_sasl_password_file=str(password_file(tmp_path)))


def test_production_refuses_unencrypted_kafka_unless_explicitly_allowed(clean_env: None) -> None:
    with pytest.raises(
        ValidationError, match="CAREPATH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT would send patient"
    ):
        CommonSettings(environment="production", kafka_allow_plaintext=False)
    with pytest.raises(ValidationError, match="SASL_PLAINTEXT"):
        CommonSettings(
            environment="production",
            kafka_allow_plaintext=False,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="u",
            kafka_sasl_password=SecretStr("p"),
        )
    allowed = CommonSettings(environment="production", kafka_allow_plaintext=True)
    assert allowed.kafka_security_protocol == "PLAINTEXT"
    development = CommonSettings(environment="development", kafka_allow_plaintext=False)
    assert kafka_security.kafka_python_kwargs(development) == {"security_protocol": "PLAINTEXT"}
    assert kafka_security.faust_credentials(development) is None


def test_production_over_mtls_starts(pki: Pki, clean_env: None) -> None:
    s = CommonSettings(
        environment="production",
        kafka_allow_plaintext=False,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
    )
    assert s.kafka_security_protocol == "SSL"


def test_one_tls_context_with_the_ca_and_client_certificate_for_every_library(
    pki: Pki, clean_env: None
) -> None:
    s = conn(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
    )
    kp = kafka_security.kafka_python_kwargs(s)
    ak = kafka_security.aiokafka_kwargs(s)
    assert kp.keys() == ak.keys() == {"security_protocol", "ssl_context"}
    assert kp["security_protocol"] == ak["security_protocol"] == "SSL"
    for ctx in (kp["ssl_context"], ak["ssl_context"]):
        assert isinstance(ctx, ssl.SSLContext)
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
        assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    import faust

    creds = kafka_security.faust_credentials(s)
    assert isinstance(creds, faust.SSLCredentials)
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(creds)
    assert auth["security_protocol"] == "SSL" and auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_scram_over_tls_reads_the_password_file_for_each_library(
    pki: Pki, tmp_path: Path, clean_env: None
) -> None:
    s = conn(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="carepath-triage",
        kafka_sasl_password_file=str(password_file(tmp_path)),
    )
    expected = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "carepath-triage",
        "sasl_plain_password": "s3cret-from-a-mounted-secret",
    }
    for kwargs in (kafka_security.kafka_python_kwargs(s), kafka_security.aiokafka_kwargs(s)):
        assert {k: v for k, v in kwargs.items() if k != "ssl_context"} == expected
        assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(kafka_security.faust_credentials(s))
    assert {k: v for k, v in auth.items() if k != "ssl_context"} == expected
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())


def test_oauthbearer_reads_the_token_file_at_each_login(pki: Pki, tmp_path: Path, clean_env: None) -> None:
    import asyncio

    token = tmp_path / "token"
    token.write_text("first-token\n")
    s = conn(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_sasl_oauth_token_file=str(token),
    )
    kp = kafka_security.kafka_python_kwargs(s)
    ak = kafka_security.aiokafka_kwargs(s)
    assert kp["sasl_mechanism"] == ak["sasl_mechanism"] == "OAUTHBEARER"
    assert kp["sasl_oauth_token_provider"].token() == "first-token"
    token.write_text("refreshed-token")
    assert kp["sasl_oauth_token_provider"].token() == "refreshed-token"
    assert asyncio.run(ak["sasl_oauth_token_provider"].token()) == "refreshed-token"
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(kafka_security.faust_credentials(s))
    assert auth["sasl_mechanism"] == "OAUTHBEARER" and auth["security_protocol"] == "SASL_SSL"
    assert asyncio.run(auth["sasl_oauth_token_provider"].token()) == "refreshed-token"


def test_a_worker_app_and_its_highwater_reader_take_the_same_security(pki: Pki, clean_env: None) -> None:
    from carepath.streaming import make_app

    s = CommonSettings(
        environment="test",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
    )
    app = make_app("kafka-security-check", s, web_port=1)
    import faust

    assert isinstance(app.conf.broker_credentials, faust.SSLCredentials)
    assert app.conf.carepath_kafka_python_kwargs["security_protocol"] == "SSL"
