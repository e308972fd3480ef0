"""MLLP framing: ``<VT> message <FS><CR>``, read with a size limit and time limits from an asyncio stream.

A frame must begin with exactly one start block (``0x0b``). What breaks that (bytes before the start block,
no start block, a repeated start block, a start block inside the message) is read up to the end block and
handed on as a :class:`FramingError`, so the sender is answered ``AE`` naming the fault instead of having a
message acknowledged whose beginning cannot be trusted. CR and LF between frames are read past (some
senders end a frame with ``<FS><CR><LF>``).

The end block is ``<FS><CR>``. A sender that ends a frame with ``<FS>`` alone is not left waiting: after
``<FS>`` the reader waits at most :data:`FS_GRACE_S` for the ``<CR>``, then takes the frame as complete.

A message over the size limit is read past (keeping only its first bytes, enough for its MSH) so that the
connection stays usable and the sender can be answered with a negative ACK naming the limit; intake never
holds more than the limit plus one read chunk for a connection.

Time limits: waiting for the first byte of a frame is bounded by the idle timeout, and a frame that has
begun must end within the frame timeout; either raises :class:`ReadTimeout` (the connection is closed:
there is no message to answer).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

START = b"\x0b"
FS = b"\x1c"
CR = b"\r"
END = FS + CR
HEAD_BYTES = 16 * 1024  # what is kept of a message over the limit (its header and first segments), at most
CHUNK = 64 * 1024
FS_GRACE_S = 1.0  # how long to wait for the <CR> after an <FS> before taking the frame as ended
_BETWEEN_FRAMES = b"\r\n"


@dataclass(frozen=True)
class Frame:
    payload: bytes


@dataclass(frozen=True)
class Oversize:
    head: bytes
    size: int


@dataclass(frozen=True)
class FramingError:
    """A frame that does not keep to MLLP; ``raw`` is what was received (bounded by the size limit)."""

    reason: str
    raw: bytes


class ReadTimeout(Exception):
    def __init__(self, kind: str) -> None:  # "idle" or "frame"
        super().__init__(kind)
        self.kind = kind


def stream_limit(max_bytes: int) -> int:
    """A StreamReader limit for a maximum message size (the start and end bytes are not counted)."""
    return max_bytes + len(START) + len(END)


class FrameReader:
    """Reads frames one after another from one connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        max_bytes: int,
        *,
        idle_timeout: float | None = None,
        frame_timeout: float | None = None,
        fs_grace: float = FS_GRACE_S,
    ) -> None:
        self.reader = reader
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.fs_grace = fs_grace
        self._buffer = bytearray()
        self._eof = False

    async def next(self) -> Frame | Oversize | FramingError | None:
        """The next frame; None when the peer has closed the connection (a partial frame is dropped)."""
        loop = asyncio.get_running_loop()
        # between frames: CR/LF are read past; the idle timeout bounds the wait for a frame to begin
        idle_deadline = None if self.idle_timeout is None else loop.time() + self.idle_timeout
        while True:
            stripped = self._buffer.lstrip(_BETWEEN_FRAMES)
            if len(stripped) != len(self._buffer):
                self._buffer = bytearray(stripped)
            if self._buffer:
                break
            if not await self._fill(idle_deadline, "idle"):
                return None
        frame_deadline = None if self.frame_timeout is None else loop.time() + self.frame_timeout
        data = bytearray()
        size = 0  # bytes of the frame so far, start block and bytes before it included
        limit = self.max_bytes + 1  # the start block is not counted
        oversize = False
        while True:
            end = self._buffer.find(FS)
            take = len(self._buffer) if end < 0 else end
            size += take
            if not oversize:
                data += self._buffer[:take]
                if len(data) > limit:
                    oversize = True
                    data = data[: HEAD_BYTES + 1]
            del self._buffer[: take + (0 if end < 0 else 1)]
            if end >= 0:
                break
            if not await self._fill(frame_deadline, "frame"):
                return None
        await self._after_fs(frame_deadline)
        return self._classify(bytes(data), size, oversize)

    async def _after_fs(self, frame_deadline: float | None) -> None:
        """Read the <CR> that ends the frame; a sender that sends <FS> alone is not waited for long."""
        if not self._buffer and not self._eof:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.fs_grace
            if frame_deadline is not None:
                deadline = min(deadline, frame_deadline)
            try:
                await self._fill(deadline, "fs")
            except ReadTimeout:
                return
        if self._buffer[:1] == CR:
            del self._buffer[:1]

    def _classify(self, data: bytes, size: int, oversize: bool) -> Frame | Oversize | FramingError:
        start = data.find(START)
        if start == 0 and data[1:2] != START and data.find(START, 1) < 0:
            if oversize:
                return Oversize(data[1 : 1 + min(HEAD_BYTES, self.max_bytes)], size - 1)
            return Frame(data[1:])
        if start < 0:
            reason = "the frame has no start block (0x0b): a frame is <VT> message <FS><CR>"
        elif start > 0:
            reason = f"{start} bytes before the start block (0x0b): a frame must begin with it"
        elif data[1:2] == START:
            reason = "the start block (0x0b) is repeated: a frame begins with exactly one"
        else:
            reason = "a start block (0x0b) inside the message: a frame holds one message and one start block"
        if oversize:
            reason += f" (and the frame of {size} bytes is over the limit of {self.max_bytes} bytes)"
        return FramingError(reason, data[: min(HEAD_BYTES, self.max_bytes)] if oversize else data)

    async def _fill(self, deadline: float | None, kind: str) -> bool:
        """Read more into the buffer; False at end of stream; ReadTimeout past the deadline."""
        if self._eof:
            return False
        timeout = None
        if deadline is not None:
            timeout = deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                raise ReadTimeout(kind)
        try:
            chunk = await asyncio.wait_for(self.reader.read(CHUNK), timeout)
        except TimeoutError:
            raise ReadTimeout(kind) from None
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True
