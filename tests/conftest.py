"""Shared fixtures: a real Kafka-protocol broker for the session.

Order of preference: ``KAFKA_BOOTSTRAP_SERVERS`` (a real cluster), testcontainers' Kafka when a Docker
engine answers, otherwise the embedded broker (Tansu, started on a free loopback port).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import structlog
from structlog._config import BoundLoggerLazyProxy

from carepath.broker import create_topics, wait_until_answers
from carepath_tools.broker import EmbeddedBroker
from carepath_tools.devstack import development_defaults

# Tests build production settings to check their other rules against a plaintext loopback broker; the
# refusal of unencrypted Kafka in production is tested on its own (tests/unit/platform/test_kafka_security.py
# passes kafka_allow_plaintext=False explicitly).
os.environ.setdefault("CAREPATH_KAFKA_ALLOW_PLAINTEXT", "true")
# A stack on one machine: topics of the development partition count (4), as make run has them.
development_defaults()


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """A test that runs a command's ``main()`` in this process (``make capacity``'s, for one)
    configures logging as the command does: JSON lines to the stderr of the moment, each logger used meanwhile
    assembled once and kept (structlog's ``cache_logger_on_first_use``). Left so, a later test in the same
    process would capture none of those loggers' lines and write to a closed capture; whichever test runs
    next, the defaults are back and no logger keeps what it assembled."""
    yield
    if not structlog.is_configured():
        return
    structlog.reset_defaults()
    for obj in gc.get_objects():
        if isinstance(obj, BoundLoggerLazyProxy) and "bind" in vars(obj):
            del obj.bind  # the assembled logger kept on first use; the class's bind assembles anew


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
