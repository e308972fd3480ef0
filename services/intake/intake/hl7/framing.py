"""MLLP framing: ``<VT> message <FS><CR>``, read with a size limit from an asyncio stream.

The stream's buffer limit (set when the server is started) is the maximum message size, so a sender can
never make intake hold more than about twice that in memory. A message over the limit is read past
(keeping only its first bytes, enough for its MSH) so that the connection stays usable and the sender
can be answered with a negative ACK naming the limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

START = b"\x0b"
END = b"\x1c\r"
HEAD_BYTES = 16 * 1024  # what is kept of a message over the limit (its header and first segments), at most


@dataclass(frozen=True)
class Frame:
    payload: bytes


@dataclass(frozen=True)
class Oversize:
    head: bytes
    size: int


def stream_limit(max_bytes: int) -> int:
    """The StreamReader limit for a maximum message size (the start and end bytes are not counted)."""
    return max_bytes + len(START) + len(END)


async def read_frame(reader: asyncio.StreamReader, max_bytes: int) -> Frame | Oversize | None:
    """The next frame; None when the peer has closed the connection (a partial frame is dropped)."""
    try:
        block = await reader.readuntil(END)
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        return await _skip(reader, exc.consumed, min(HEAD_BYTES, max_bytes))
    start = block.find(START)
    payload = block[start + 1 : -len(END)] if start >= 0 else block[: -len(END)]
    if len(payload) > max_bytes:
        return Oversize(payload[: min(HEAD_BYTES, max_bytes)], len(payload))
    return Frame(payload)


async def _skip(reader: asyncio.StreamReader, consumed: int, keep: int) -> Oversize | None:
    """Read past a message longer than the limit, keeping its first ``keep`` bytes."""
    try:
        first = await reader.readexactly(consumed)
    except asyncio.IncompleteReadError:
        return None
    start = first.find(START)
    head = first[start + 1 if start >= 0 else 0 :][:keep]
    size = len(first) - (start + 1 if start >= 0 else 0)
    while True:
        try:
            block = await reader.readuntil(END)
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
        except asyncio.IncompleteReadError:
            return None
        else:
            return Oversize(head, size + len(block) - len(END))
        try:
            size += len(await reader.readexactly(consumed))
        except asyncio.IncompleteReadError:
            return None
