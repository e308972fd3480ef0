"""The MLLP listener: many messages per kept-open connection, bounded in connections, time and memory.

Runs on the event loop of the HTTP API (started and stopped by its lifespan), or alone in its own process
(``python -m intake.hl7``, see :mod:`intake.hl7.__main__`). Each connection is served in order: read a
frame, answer its ACK, read the next (MLLP senders wait for the ACK before sending the next message, which
keeps one sender's messages in order). Frames are read with :class:`intake.hl7.framing.FrameReader`, so a
message over the size limit or a frame that breaks MLLP is answered with a negative ACK naming the fault
instead of breaking the connection.

Limits: at most ``max_connections`` open connections (one more is closed at once and counted); a
connection with no frame begun for ``idle_timeout`` seconds is closed; a frame that has begun must end
within ``frame_timeout`` seconds, else the connection is closed without an answer (there is no message to
answer). Each connection holds at most the message size limit plus one read chunk.

Senders: what arrives on a connection is stamped with the name of the allow-list entry its address falls
in (``CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES``, ``name=address``; the first entry that holds it), or ``mllp``
when there is no allow-list, so the records say which engine sent them.

TLS (optional, :func:`tls_context`): with a certificate and key the listener speaks MLLP inside TLS 1.2 or
later, and with a client CA it asks every sender for a certificate signed by it (mutual TLS). The handshake
is made after the allow-list and connection limit have been checked, within the frame timeout; a failed
one closes the connection before a byte of MLLP is read, is counted by a bounded reason
(``carepath_intake_mllp_tls_handshake_failures_total{reason}``) and logged with the peer's IP address
only, never what its certificate says.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from pathlib import Path
from typing import Any

from carepath import logs
from intake import metrics
from intake.hl7.framing import CHUNK, END, START, FrameReader, FramingError, Oversize, ReadTimeout
from intake.hl7.handler import Hl7Intake
from intake.settings import MLLP_PREFIX

_log = logs.get("intake.mllp")

HANDSHAKE_TIMEOUT_S = 30.0  # at most; the frame timeout when it is shorter

# ssl's reason for a failed handshake -> the bounded label it is counted under
_CLIENT_CERTIFICATE = frozenset(
    {
        "PEER_DID_NOT_RETURN_A_CERTIFICATE",
        "CERTIFICATE_VERIFY_FAILED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)
_PROTOCOL = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "VERSION_TOO_LOW",
        "NO_SHARED_CIPHER",
        "NO_CIPHERS_AVAILABLE",
        "NO_PROTOCOLS_AVAILABLE",
        "UNKNOWN_PROTOCOL",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
    }
)
HANDSHAKE_REASONS = ("protocol", "client_certificate", "timeout", "closed", "other")


class TlsError(Exception):
    """The TLS certificate, key or client CA cannot be used; the message names the setting and file."""


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server context, TLS 1.2 or later, with ``cert`` and ``key`` (PEM); with ``client_ca`` (PEM), every
    client must present a certificate signed by it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(
            f"CAREPATH_INTAKE_MLLP_TLS_CERT {str(cert)!r} and CAREPATH_INTAKE_MLLP_TLS_KEY {str(key)!r}: "
            f"not a PEM certificate and its private key ({_why(exc)})"
        ) from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(
                f"CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA {str(client_ca)!r}: not PEM CA certificates ({_why(exc)})"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def handshake_failure(exc: BaseException) -> str:
    """The bounded reason a TLS handshake failed (one of HANDSHAKE_REASONS)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
        reason = exc.reason or ""
        if reason in _CLIENT_CERTIFICATE or isinstance(exc, ssl.SSLCertVerificationError):
            return "client_certificate"
        return "protocol" if reason in _PROTOCOL else "other"
    if isinstance(exc, (ssl.SSLEOFError, ConnectionError, EOFError, asyncio.IncompleteReadError)):
        return "closed"
    return "other"


class MllpServer:
    def __init__(
        self,
        handler: Hl7Intake,
        max_bytes: int,
        *,
        idle_timeout: float | None = 300.0,
        frame_timeout: float | None = 30.0,
        max_connections: int = 100,
        allowed_sources: Sequence[IPv4Network | IPv6Network] = (),
        tls: ssl.SSLContext | None = None,
        source_names: Sequence[str] = (),
    ) -> None:
        self.handler = handler
        self.tls = tls  # None: plain MLLP
        self.allowed_sources = tuple(allowed_sources)  # empty: every source may connect
        # the name of each allowed network, in the same order (unnamed: mllp-<position>)
        named = tuple(source_names)[: len(self.allowed_sources)]
        self.source_names = named + tuple(
            f"{MLLP_PREFIX}-{i}" for i in range(len(named) + 1, len(self.allowed_sources) + 1)
        )
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._open = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host=host, port=port, limit=CHUNK)
        _log.info(
            "mllp.listening",
            host=host,
            port=self.port,
            max_bytes=self.max_bytes,
            max_connections=self.max_connections,
            idle_timeout_s=self.idle_timeout,
            frame_timeout_s=self.frame_timeout,
            tls=self.tls is not None,
            client_certificates=self.tls is not None and self.tls.verify_mode == ssl.CERT_REQUIRED,
        )

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def open_connections(self) -> int:
        return self._open

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    def _source(self, writer: asyncio.StreamWriter) -> str | None:
        """The name of the allowed source the connection comes from; None when it is not allowed."""
        if not self.allowed_sources:
            return MLLP_PREFIX
        peer = writer.get_extra_info("peername")
        try:
            address = ip_address(peer[0]) if peer else None
        except ValueError:
            address = None
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address is None:
            return None
        return next(
            (
                name
                for name, network in zip(self.source_names, self.allowed_sources, strict=True)
                if address in network
            ),
            None,
        )

    async def _handshake(self, writer: asyncio.StreamWriter) -> bool:
        """TLS on the accepted connection; False (counted, logged, the connection aborted) if it fails."""
        assert self.tls is not None
        timeout = min(self.frame_timeout or HANDSHAKE_TIMEOUT_S, HANDSHAKE_TIMEOUT_S)
        try:
            async with asyncio.timeout(timeout):
                await writer.start_tls(self.tls, ssl_handshake_timeout=timeout + 1)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = handshake_failure(exc)
            metrics.MLLP_TLS_HANDSHAKE_FAILURES.labels(reason).inc()
            peer = writer.get_extra_info("peername")
            _log.warning(
                "mllp.tls_handshake_failed",
                reason=reason,
                error=type(exc).__name__,
                peer=str(peer[0]) if peer else None,
            )
            writer.transport.abort()
            return False
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = self._source(writer)
        if source is None:
            # an address outside the allow-list: closed before a byte is read, counted, never logged
            metrics.MLLP_SOURCES_REFUSED.inc()
            writer.transport.abort()
            return
        handler = self.handler.sent_by(source)
        if self._open >= self.max_connections:
            metrics.MLLP_CONNECTIONS_REFUSED.inc()
            _log.warning("mllp.connection_refused", open=self._open, max_connections=self.max_connections)
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self._open += 1
        metrics.MLLP_CONNECTIONS.inc()
        frames = FrameReader(
            reader, self.max_bytes, idle_timeout=self.idle_timeout, frame_timeout=self.frame_timeout
        )
        try:
            if self.tls is not None and not await self._handshake(writer):
                return
            while True:
                frame = await frames.next()
                if frame is None:
                    break
                if isinstance(frame, Oversize):
                    reply = await handler.oversize(frame, self.max_bytes)
                elif isinstance(frame, FramingError):
                    reply = await handler.framing_error(frame)
                else:
                    reply = await handler.handle(frame.payload)
                for ack in reply.encoded_frames():  # none, one, or (enhanced mode) commit then application
                    writer.write(START + ack + END)
                await writer.drain()
        except ReadTimeout as exc:
            metrics.MLLP_TIMEOUTS.labels("frame" if exc.kind != "idle" else "idle").inc()
            if exc.kind == "idle":
                _log.info("mllp.idle_closed", idle_timeout_s=self.idle_timeout)
            else:
                _log.warning("mllp.frame_timeout", frame_timeout_s=self.frame_timeout)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            _log.exception("mllp.connection_failed")
        finally:
            self._open -= 1
            metrics.MLLP_CONNECTIONS.dec()
            writer.close()
            if task is not None:
                self._connections.discard(task)
