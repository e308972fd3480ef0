"""MLLP over TLS, on a real listener on 127.0.0.1 with certificates made for the test (openssl): a TLS
sender is answered; a plaintext sender on the TLS port has nothing read and its connection closed; with a
client CA, only a sender presenting a certificate signed by it is served (mutual TLS). Every failed
handshake is counted by a bounded reason and logged with the peer's IP address only."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from intake.hl7.__main__ import status_app
from intake.hl7.handler import Hl7Intake
from intake.hl7.server import MllpServer, TlsError, handshake_failure, tls_context
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.support.live import live
from tests.unit.hl7 import samples

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the certificates"),
]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed the listener's certificate and the senders'
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # a sender's certificate signed by another CA
    stranger_key: Path


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True, timeout=30)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN=carepath test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    ext = directory / f"{name}.ext"
    ext.write_text(extensions)
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext,
        cwd=directory,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("mllp-tls")
    ca, other = _ca(d, "ca"), _ca(d, "other-ca")
    server = _signed(d, "listener", ca, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    client = _signed(d, "engine", ca, "extendedKeyUsage=clientAuth\n")
    stranger = _signed(d, "stranger", other, "extendedKeyUsage=clientAuth\n")
    return Pki(ca[0], *server, *client, *stranger)


def client_context(pki: Pki, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)  # the sender checks the listener's certificate
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def failures(reason: str) -> float:
    sample = "carepath_intake_mllp_tls_handshake_failures_total"
    return REGISTRY.get_sample_value(sample, {"reason": reason}) or 0.0


async def send(server: MllpServer, message: str, context: ssl.SSLContext | None) -> bytes:
    """One framed message; what came back before the listener closed (b"" for nothing)."""
    await server.start(HOST, 0)
    try:
        try:
            tls = {"ssl": context, "server_hostname": HOST} if context is not None else {}
            reader, writer = await asyncio.open_connection(HOST, server.port, **tls)  # type: ignore[arg-type]
        except (ssl.SSLError, ConnectionError):
            return b""  # refused during the handshake
        try:
            writer.write(b"\x0b" + message.encode() + b"\x1c\r")
            await writer.drain()
            return await asyncio.wait_for(reader.read(65536), timeout=10)
        except (ssl.SSLError, ConnectionError):
            return b""  # refused once the listener had seen the (missing) certificate
        finally:
            writer.close()
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await writer.wait_closed()
    finally:
        await server.close()


def listener(handler: Hl7Intake, pki: Pki, *, client_ca: bool = False) -> MllpServer:
    tls = tls_context(pki.server_cert, pki.server_key, pki.ca if client_ca else None)
    return MllpServer(handler, 1 << 20, tls=tls, frame_timeout=5)


def test_a_tls_sender_is_answered(handler: Hl7Intake, publisher: MemoryPublisher, pki: Pki) -> None:
    answer = asyncio.run(
        send(listener(handler, pki), samples.oru_pain("TLS-1", "MRN-T1"), client_context(pki))
    )
    assert b"MSA|AA|TLS-1" in answer
    assert len(publisher.records) == 1


def test_a_plaintext_sender_on_the_tls_port_has_nothing_read(
    handler: Hl7Intake, publisher: MemoryPublisher, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    before = failures("protocol")
    answer = asyncio.run(send(listener(handler, pki), samples.oru_pain("PLAIN-1", "MRN-P1"), None))
    assert answer == b""  # closed: no ACK, nothing stored
    assert publisher.records == []
    assert failures("protocol") == before + 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "MRN-P1" not in logged and "PLAIN-1" not in logged


def test_with_a_client_ca_a_sender_without_a_certificate_is_refused(
    handler: Hl7Intake, publisher: MemoryPublisher, pki: Pki
) -> None:
    before = failures("client_certificate")
    message = samples.oru_pain("NOCERT-1", "MRN-N1")
    answer = asyncio.run(send(listener(handler, pki, client_ca=True), message, client_context(pki)))
    assert answer == b""
    assert publisher.records == []
    assert failures("client_certificate") == before + 1


def test_with_a_client_ca_a_certificate_signed_by_another_ca_is_refused(
    handler: Hl7Intake, publisher: MemoryPublisher, pki: Pki
) -> None:
    before = failures("client_certificate")
    stranger = client_context(pki, (pki.stranger_cert, pki.stranger_key))
    answer = asyncio.run(
        send(listener(handler, pki, client_ca=True), samples.oru_pain("ST-1", "MRN-S1"), stranger)
    )
    assert answer == b"" and publisher.records == []
    assert failures("client_certificate") == before + 1


def test_with_a_client_ca_a_certificate_it_signed_is_answered(
    handler: Hl7Intake, publisher: MemoryPublisher, pki: Pki
) -> None:
    engine = client_context(pki, (pki.client_cert, pki.client_key))
    answer = asyncio.run(
        send(listener(handler, pki, client_ca=True), samples.oru_pain("MTLS-1", "MRN-M1"), engine)
    )
    assert b"MSA|AA|MTLS-1" in answer
    assert len(publisher.records) == 1


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_nothing_older_than_tls_1_2(handler: Hl7Intake, pki: Pki) -> None:
    assert tls_context(pki.server_cert, pki.server_key).minimum_version == ssl.TLSVersion.TLSv1_2
    old = client_context(pki)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    try:
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    answer = asyncio.run(send(listener(handler, pki), samples.oru_pain("OLD-1", "MRN-O1"), old))
    assert answer == b""


def test_a_silent_sender_is_closed_when_the_handshake_times_out(handler: Hl7Intake, pki: Pki) -> None:
    async def silent() -> bytes:
        server = MllpServer(
            handler, 1 << 20, tls=tls_context(pki.server_cert, pki.server_key), frame_timeout=0.3
        )
        await server.start(HOST, 0)
        try:
            reader, writer = await asyncio.open_connection(HOST, server.port)  # TCP only: never says hello
            try:
                return await asyncio.wait_for(reader.read(100), timeout=10)
            except ConnectionError:
                return b""
            finally:
                writer.close()
        finally:
            await server.close()

    before = failures("timeout")
    assert asyncio.run(silent()) == b""
    assert failures("timeout") == before + 1


def test_reasons_are_bounded() -> None:
    assert handshake_failure(TimeoutError()) == "timeout"
    assert handshake_failure(ConnectionResetError()) == "closed"
    assert handshake_failure(ssl.SSLEOFError()) == "closed"
    assert handshake_failure(RuntimeError("anything")) == "other"


def test_settings_name_a_half_configuration(pki: Pki) -> None:
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_MLLP_TLS_CERT and CAREPATH_INTAKE_MLLP_TLS_KEY"):
        IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_TLS_CERT=str(pki.server_cert))
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_MLLP_TLS_CERT and CAREPATH_INTAKE_MLLP_TLS_KEY"):
        IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_TLS_KEY=str(pki.server_key))
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA needs"):
        IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA=str(pki.ca))
    both = IntakeSettings(
        environment="test",
        CAREPATH_INTAKE_MLLP_TLS_CERT=str(pki.server_cert),
        CAREPATH_INTAKE_MLLP_TLS_KEY=str(pki.server_key),
    )
    assert both.mllp_tls_cert == pki.server_cert and both.mllp_tls_client_ca is None


def test_unusable_files_are_named(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="CAREPATH_INTAKE_MLLP_TLS_CERT"):
        tls_context(tmp_path / "missing.pem", pki.server_key)
    with pytest.raises(TlsError, match="CAREPATH_INTAKE_MLLP_TLS_KEY"):
        tls_context(pki.server_cert, pki.client_key)  # not this certificate's key
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(TlsError, match="CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA"):
        tls_context(pki.server_cert, pki.server_key, not_pem)


def test_the_standalone_listeners_status_port_guards_metrics_when_asked(handler: Hl7Intake) -> None:
    token = "status-metrics-token-00000001"
    for configured, anonymous in (("", 200), (token, 401)):
        settings = IntakeSettings(environment="test", metrics_tokens=configured)
        with live(status_app(handler.intake, settings), lifespan="off") as url:
            assert httpx.get(f"{url}/metrics", timeout=10).status_code == anonymous
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
            scraped = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert (
                scraped.status_code == 200
                and "carepath_intake_mllp_tls_handshake_failures_total" in scraped.text
            )
