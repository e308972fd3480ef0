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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from carepath import logs
from intake import metrics
from intake.hl7.framing import CHUNK, END, START, FrameReader, FramingError, Oversize, ReadTimeout
from intake.hl7.handler import Hl7Intake

_log = logs.get("intake.mllp")


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
    ) -> None:
        self.handler = handler
        self.allowed_sources = tuple(allowed_sources)  # empty: every source may connect
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

    def _allowed(self, writer: asyncio.StreamWriter) -> bool:
        if not self.allowed_sources:
            return True
        peer = writer.get_extra_info("peername")
        try:
            address = ip_address(peer[0]) if peer else None
        except ValueError:
            address = None
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address is not None and any(address in network for network in self.allowed_sources)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._allowed(writer):
            # an address outside the allow-list: closed before a byte is read, counted, never logged
            metrics.MLLP_SOURCES_REFUSED.inc()
            writer.transport.abort()
            return
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
            while True:
                frame = await frames.next()
                if frame is None:
                    break
                if isinstance(frame, Oversize):
                    reply = await self.handler.oversize(frame, self.max_bytes)
                elif isinstance(frame, FramingError):
                    reply = await self.handler.framing_error(frame)
                else:
                    reply = await self.handler.handle(frame.payload)
                writer.write(START + reply.encoded() + END)
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
