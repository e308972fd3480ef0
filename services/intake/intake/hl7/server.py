"""The MLLP listener: python-hl7's asyncio server, many messages per kept-open connection.

Runs on the event loop of the HTTP API (started and stopped by its lifespan). Each connection is served
in order: read a frame, answer its ACK, read the next (MLLP senders wait for the ACK before sending the
next message, which keeps one sender's messages in order). Frames are read with
:func:`intake.hl7.framing.read_frame` on python-hl7's stream reader, so a message over the size limit is
answered with a negative ACK naming the limit instead of breaking the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import hl7.mllp  # type: ignore[import-untyped]

from carepath import logs
from intake import metrics
from intake.hl7.framing import Oversize, read_frame, stream_limit
from intake.hl7.handler import Hl7Intake

_log = logs.get("intake.mllp")


class MllpServer:
    def __init__(self, handler: Hl7Intake, max_bytes: int) -> None:
        self.handler = handler
        self.max_bytes = max_bytes
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self, host: str, port: int) -> None:
        self._server = await hl7.mllp.start_hl7_server(
            self._serve, host=host, port=port, limit=stream_limit(self.max_bytes)
        )
        _log.info("mllp.listening", host=host, port=self.port, max_bytes=self.max_bytes)

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        metrics.MLLP_CONNECTIONS.inc()
        try:
            while True:
                frame = await read_frame(reader, self.max_bytes)
                if frame is None:
                    break
                if isinstance(frame, Oversize):
                    reply = await self.handler.oversize(frame, self.max_bytes)
                else:
                    reply = await self.handler.handle(frame.payload)
                writer.writeblock(reply.encoded())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            _log.exception("mllp.connection_failed")
        finally:
            metrics.MLLP_CONNECTIONS.dec()
            writer.close()
            if task is not None:
                self._connections.discard(task)
