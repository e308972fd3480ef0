"""Shared fixtures: a real Kafka-protocol broker for the session.

Order of preference: ``KAFKA_BOOTSTRAP_SERVERS`` (a real cluster), testcontainers' Kafka when a Docker
engine answers, otherwise the embedded broker (Tansu, started on a free loopback port).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from carepath.broker import create_topics, wait_until_answers
from carepath_tools.broker import EmbeddedBroker
from carepath_tools.devstack import development_defaults

# Tests build production settings to check their other rules against a plaintext loopback broker; the
# refusal of unencrypted Kafka in production is tested on its own (tests/unit/platform/test_kafka_security.py
# passes kafka_allow_plaintext=False explicitly).
os.environ.setdefault("CAREPATH_KAFKA_ALLOW_PLAINTEXT", "true")
# A stack on one machine: topics of the development partition count (4), as make run has them.
development_defaults()


@dataclass(frozen=True)
class BrokerInfo:
    bootstrap: str
    profile: str  # "embedded" or "kafka"
    embedded: EmbeddedBroker | None = None


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerInfo]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        wait_until_answers(configured)
        create_topics(configured)
        yield BrokerInfo(configured, os.environ.get("CAREPATH_BROKER_PROFILE", "kafka"))
        return
    if os.environ.get("CAREPATH_TEST_DOCKER", "auto") != "never" and _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as kafka:
            bootstrap = kafka.get_bootstrap_server()
            create_topics(bootstrap)
            yield BrokerInfo(bootstrap, "kafka")
        return
    with EmbeddedBroker() as embedded:
        yield BrokerInfo(embedded.bootstrap, "embedded", embedded)
