"""Kafka client arguments for TLS, mTLS and SASL, built once from :class:`KafkaConnectionSettings`.

Every Kafka client of carepath takes its security from here: kafka-python (intake's producer, admin, topic
readers, the tail tool), aiokafka (the worklist's feed) and Faust (the workers). One ``ssl.SSLContext``
serves all three libraries, so the CA, client certificate and hostname check cannot differ between them.

    KafkaProducer(bootstrap_servers=..., **kafka_python_kwargs(settings))
    AIOKafkaConsumer(bootstrap_servers=..., **aiokafka_kwargs(settings))
    faust.App(..., broker_credentials=faust_credentials(settings))

Credentials never appear in a log line or an error message: only the names of the variables that hold them.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from carepath.settings import KafkaConnectionSettings


def ssl_context(settings: KafkaConnectionSettings) -> ssl.SSLContext | None:
    """The TLS context for the configured protocol (None without TLS): the CA file given, else the system's
    CAs; the client certificate and key when given (mTLS); certificate and hostname always checked."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = settings.kafka_ssl_check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if settings.kafka_ssl_certfile and settings.kafka_ssl_keyfile:
        ctx.load_cert_chain(str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile))
    return ctx


class _TokenFile:
    """OAUTHBEARER token read from a file at every login (a sidecar or the platform keeps it fresh)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def read(self) -> str:
        token = self._path.read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError("the OAUTHBEARER token file (CAREPATH_KAFKA_SASL_OAUTH_TOKEN_FILE) is empty")
        return token

    def __repr__(self) -> str:  # never the token
        return f"{type(self).__name__}({self._path})"


def _sasl(settings: KafkaConnectionSettings) -> dict[str, Any]:
    mechanism = settings.kafka_sasl_mechanism
    if not settings.kafka_security_protocol.startswith("SASL_") or mechanism is None:
        return {}
    if mechanism == "OAUTHBEARER":
        return {"sasl_mechanism": mechanism}
    return {
        "sasl_mechanism": mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.sasl_password(),
    }


def _common(settings: KafkaConnectionSettings) -> dict[str, Any]:
    """The arguments kafka-python and aiokafka spell alike: protocol, TLS context, SASL login."""
    kwargs: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    ctx = ssl_context(settings)
    if ctx is not None:
        kwargs["ssl_context"] = ctx
    kwargs.update(_sasl(settings))
    return kwargs


def kafka_python_kwargs(settings: KafkaConnectionSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    kwargs = _common(settings)
    if settings.kafka_sasl_mechanism == "OAUTHBEARER" and settings.kafka_sasl_oauth_token_file:
        from kafka.net.sasl.oauth import AbstractTokenProvider

        source = _TokenFile(settings.kafka_sasl_oauth_token_file)

        class _Provider(AbstractTokenProvider):  # type: ignore[misc]
            def token(self) -> str:
                return source.read()

        kwargs["sasl_oauth_token_provider"] = _Provider()
    return kwargs


def aiokafka_kwargs(settings: KafkaConnectionSettings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's AIOKafkaConsumer and AIOKafkaProducer."""
    kwargs = _common(settings)
    if settings.kafka_sasl_mechanism == "OAUTHBEARER":
        kwargs["sasl_oauth_token_provider"] = aiokafka_token_provider(settings)
    return kwargs


def aiokafka_token_provider(settings: KafkaConnectionSettings) -> Any:
    from aiokafka.abc import AbstractTokenProvider

    assert settings.kafka_sasl_oauth_token_file is not None
    source = _TokenFile(settings.kafka_sasl_oauth_token_file)

    class _Provider(AbstractTokenProvider):  # type: ignore[misc]
        async def token(self) -> str:
            return source.read()

    return _Provider()


def faust_credentials(settings: KafkaConnectionSettings) -> Any:
    """Faust's ``broker_credentials`` (None for PLAINTEXT): Faust hands them to aiokafka for its consumer,
    producer and admin connections alike."""
    import faust

    protocol = settings.kafka_security_protocol
    ctx = ssl_context(settings)
    mechanism = settings.kafka_sasl_mechanism
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ctx)
    if mechanism == "OAUTHBEARER":
        return faust.OAuthCredentials(oauth_cb=aiokafka_token_provider(settings), ssl_context=ctx)
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.sasl_password(),
        ssl_context=ctx,
        mechanism=mechanism,
    )


def from_environment() -> KafkaConnectionSettings:
    """The connection settings for a command-line tool, read and validated as the services read them."""
    from carepath.settings import load

    return load(KafkaConnectionSettings)
