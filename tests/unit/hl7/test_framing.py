"""MLLP frames read from a stream with a size limit (an in-memory asyncio stream: no network)."""

from __future__ import annotations

import asyncio

import pytest

from intake.hl7.framing import Frame, Oversize, read_frame, stream_limit

pytestmark = pytest.mark.unit

MAX = 1024


def frame(payload: bytes) -> bytes:
    return b"\x0b" + payload + b"\x1c\r"


def read_all(data: bytes, max_bytes: int = MAX) -> list[Frame | Oversize | None]:
    async def run() -> list[Frame | Oversize | None]:
        reader = asyncio.StreamReader(limit=stream_limit(max_bytes))
        reader.feed_data(data)
        reader.feed_eof()
        out: list[Frame | Oversize | None] = []
        while True:
            item = await read_frame(reader, max_bytes)
            out.append(item)
            if item is None:
                return out

    return asyncio.run(run())


def test_several_frames_on_one_stream() -> None:
    assert read_all(frame(b"MSH|one") + frame(b"MSH|two")) == [Frame(b"MSH|one"), Frame(b"MSH|two"), None]


def test_bytes_between_frames_are_ignored() -> None:
    assert read_all(frame(b"MSH|one") + b"\r\n" + frame(b"MSH|two"))[:2] == [
        Frame(b"MSH|one"),
        Frame(b"MSH|two"),
    ]


def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    payload = b"M" * MAX
    assert read_all(frame(payload))[0] == Frame(payload)


@pytest.mark.parametrize("size", [MAX + 1, 3 * MAX, 50 * MAX])
def test_a_message_over_the_limit_is_read_past_and_the_next_one_is_read(size: int) -> None:
    big = b"MSH|^~\\&|RIS|RLH|" + b"x" * size
    items = read_all(frame(big) + frame(b"MSH|next"))
    assert isinstance(items[0], Oversize)
    assert items[0].size == len(big)
    assert items[0].head == big[:MAX]
    assert items[1:] == [Frame(b"MSH|next"), None]


def test_a_frame_cut_off_by_the_peer_is_dropped() -> None:
    assert read_all(frame(b"MSH|one") + b"\x0bMSH|half") == [Frame(b"MSH|one"), None]
