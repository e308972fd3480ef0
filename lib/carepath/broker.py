"""The Kafka cluster as an operator prepares it: wait until a broker answers, create the catalogue's topics.

    python -m carepath.broker create-topics    # on KAFKA_BOOTSTRAP_SERVERS (or --bootstrap), TLS/SASL as set

Topics that already exist are left as they are; the others are created with the names, partition counts
and policies of ``schemas/topics.json`` (:func:`carepath.topics.catalogue`). The embedded broker of
``make run`` and the tests is development tooling: :mod:`carepath_tools.broker`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from carepath.topics import TopicSpec, catalogue


class BrokerError(RuntimeError):
    pass


def wait_until_answers(
    bootstrap: str, timeout: float = 20.0, security: Mapping[str, Any] | None = None
) -> None:
    """Block until a Kafka metadata request succeeds (not merely until the port is open). ``security``:
    TLS/SASL arguments (:func:`carepath.kafka_security.kafka_python_kwargs`)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                request_timeout_ms=2000,
                client_id="carepath-probe",
                **(security or {}),
            )
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise BrokerError(
        f"broker at {bootstrap} did not answer the Kafka protocol within {timeout:.0f}s: {last}"
    )


def create_topics(
    bootstrap: str, specs: Iterable[TopicSpec] | None = None, security: Mapping[str, Any] | None = None
) -> list[str]:
    """Create every catalogue topic that does not exist yet; returns the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    wanted = list(specs if specs is not None else catalogue())
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="carepath-topics", **(security or {}))
    try:
        existing = set(admin.list_topics())
        missing = [s for s in wanted if s.name not in existing]
        if missing:
            replication = 1 if len(admin.describe_cluster()["brokers"]) < 3 else 3
            admin.create_topics(
                [NewTopic(s.name, s.partitions, replication, topic_configs=s.configs()) for s in missing]
            )
        return [s.name for s in missing]
    finally:
        admin.close()


def create_topics_command(bootstrap: str) -> int:
    """``create-topics``: wait (up to two minutes) for the cluster, with the TLS/SASL settings of the
    environment, then create what is missing and say what was created."""
    from carepath import kafka_security

    security = kafka_security.kafka_python_kwargs(kafka_security.from_environment())
    wait_until_answers(bootstrap, timeout=120, security=security)
    created = create_topics(bootstrap, security=security)
    print(f"created {len(created)} topic(s): {', '.join(created) or 'none needed'}")
    return 0


def add_create_topics(sub: Any) -> None:
    """The ``create-topics`` subcommand, on ``sub`` (an ``add_subparsers()`` result)."""
    ct = sub.add_parser("create-topics", help="create the catalogue's topics on an existing cluster")
    ct.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m carepath.broker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_create_topics(sub)
    args = parser.parse_args(argv)
    if not args.bootstrap:
        parser.error("--bootstrap or KAFKA_BOOTSTRAP_SERVERS is required")
    return create_topics_command(args.bootstrap)


if __name__ == "__main__":
    sys.exit(main())
