"""Kafka over TLS and mTLS: a client that trusts the wrong CA, or brings no certificate where one is
required, is refused; carepath's clients, built from the CAREPATH_KAFKA_* settings, get through.

The embedded broker cannot serve TLS itself (Tansu 0.6.0: ``--cert`` and ``--key`` cannot be given together,
and either alone leaves the listener plaintext), so the broker here stands behind a TLS terminator in its own
process that requires a client certificate signed by the test CA (tests/support/tls.py). The TLS handshake,
certificate checks and client certificate are real; what is not exercised is a broker that terminates TLS
itself and maps the client certificate to a Kafka principal and ACLs (Strimzi does: README "Connecting to a
secured Kafka cluster").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from carepath import topics
from carepath.kafka_security import kafka_python_kwargs
from carepath.settings import KafkaConnectionSettings
from tests.support.tls import TlsBroker, broker_behind_tls, make_ca

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    with broker_behind_tls(tmp_path_factory.mktemp("pki")) as b:
        yield b


def settings(env: dict[str, str], bootstrap: str) -> KafkaConnectionSettings:
    given = {k.removeprefix("CAREPATH_").lower(): v for k, v in env.items()}
    return KafkaConnectionSettings.model_validate(given | {"KAFKA_BOOTSTRAP_SERVERS": bootstrap})


def test_a_client_with_the_ca_and_its_certificate_produces_and_reads_over_mtls(tls_broker: TlsBroker) -> None:
    security = kafka_python_kwargs(settings(tls_broker.env(), tls_broker.bootstrap))
    producer = KafkaProducer(bootstrap_servers=tls_broker.bootstrap, acks="all", **security)
    try:
        sent = producer.send(topics.AUDIT, key=b"tls-check", value=b'{"over":"tls"}').get(timeout=20)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        bootstrap_servers=tls_broker.bootstrap, group_id=None, enable_auto_commit=False, **security
    )
    try:
        from kafka import TopicPartition

        tp = TopicPartition(topics.AUDIT, sent.partition)
        consumer.assign([tp])
        consumer.seek(tp, sent.offset)
        got = [m.value for batch in consumer.poll(timeout_ms=10_000).values() for m in batch]
    finally:
        consumer.close()
    assert got[:1] == [b'{"over":"tls"}']


def _refused(security: dict[str, object], bootstrap: str) -> None:
    with pytest.raises(KafkaError):
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=3000, **security
        )
        try:
            admin.list_topics()
        finally:
            admin.close()


def test_a_client_that_trusts_another_ca_is_refused(tls_broker: TlsBroker, tmp_path: Path) -> None:
    other_ca, _, _ = make_ca(tmp_path, "another-ca")
    env = tls_broker.env() | {"CAREPATH_KAFKA_SSL_CAFILE": str(other_ca)}
    _refused(kafka_python_kwargs(settings(env, tls_broker.bootstrap)), tls_broker.bootstrap)


def test_a_client_without_a_certificate_is_refused_where_mtls_is_required(tls_broker: TlsBroker) -> None:
    env = tls_broker.env(client_cert=False)
    _refused(kafka_python_kwargs(settings(env, tls_broker.bootstrap)), tls_broker.bootstrap)


def test_a_plaintext_client_gets_nothing_from_a_tls_listener(tls_broker: TlsBroker) -> None:
    _refused({"security_protocol": "PLAINTEXT"}, tls_broker.bootstrap)
