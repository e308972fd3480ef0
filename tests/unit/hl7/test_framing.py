"""MLLP frames read from a stream with a size limit and time limits (an in-memory asyncio stream: no network)."""

from __future__ import annotations

import asyncio

import pytest

from intake.hl7.framing import Frame, FrameReader, FramingError, Oversize, ReadTimeout, stream_limit

pytestmark = pytest.mark.unit

MAX = 1024
MESSAGE = b"MSH|^~\\&|RIS|RLH|CAREPATH|RLH|20240501093000||ORU^R01|RIS-1|P|2.5.1\rPID|1||MRN1"

Item = Frame | Oversize | FramingError | None


def frame(payload: bytes) -> bytes:
    return b"\x0b" + payload + b"\x1c\r"


def read_all(data: bytes, max_bytes: int = MAX) -> list[Item]:
    async def run() -> list[Item]:
        reader = asyncio.StreamReader(limit=stream_limit(max_bytes))
        reader.feed_data(data)
        reader.feed_eof()
        frames = FrameReader(reader, max_bytes, idle_timeout=5, frame_timeout=5)
        out: list[Item] = []
        while True:
            item = await asyncio.wait_for(frames.next(), 10)
            out.append(item)
            if item is None:
                return out

    return asyncio.run(run())


def test_several_frames_on_one_stream() -> None:
    assert read_all(frame(b"MSH|one") + frame(b"MSH|two")) == [Frame(b"MSH|one"), Frame(b"MSH|two"), None]


@pytest.mark.parametrize("between", [b"\r", b"\n", b"\r\n", b"\r\n\r\n"])
def test_line_ends_between_frames_are_read_past(between: bytes) -> None:
    assert read_all(frame(b"MSH|one") + between + frame(b"MSH|two"))[:2] == [
        Frame(b"MSH|one"),
        Frame(b"MSH|two"),
    ]


def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    payload = b"M" * MAX
    assert read_all(frame(payload))[0] == Frame(payload)


@pytest.mark.parametrize("size", [MAX + 1, 3 * MAX, 50 * MAX, 200 * MAX])
def test_a_message_over_the_limit_is_read_past_and_the_next_one_is_read(size: int) -> None:
    big = b"MSH|^~\\&|RIS|RLH|" + b"x" * size
    items = read_all(frame(big) + frame(b"MSH|next"))
    assert isinstance(items[0], Oversize)
    assert items[0].size == len(big)
    assert items[0].head == big[:MAX]
    assert items[1:] == [Frame(b"MSH|next"), None]


def test_a_frame_cut_off_by_the_peer_is_dropped() -> None:
    assert read_all(frame(b"MSH|one") + b"\x0bMSH|half") == [Frame(b"MSH|one"), None]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"garbage" + frame(MESSAGE), "7 bytes before the start block"),
        (b"\x00" + frame(MESSAGE), "1 bytes before the start block"),
        (b" " + frame(MESSAGE), "1 bytes before the start block"),
        (MESSAGE + b"\x1c\r", "no start block"),
        (b"\x0b\x0b" + MESSAGE + b"\x1c\r", "start block (0x0b) is repeated"),
        (b"\x0bMSH|^~\\&|half\x0b" + MESSAGE + b"\x1c\r", "start block (0x0b) inside the message"),
    ],
)
def test_a_frame_that_does_not_begin_with_exactly_one_start_block_is_a_framing_error(
    data: bytes, reason: str
) -> None:
    """The next frame is read as usual: the error is confined to the frame it is in."""
    items = read_all(data + frame(b"MSH|next"))
    assert isinstance(items[0], FramingError), items[0]
    assert reason in items[0].reason
    assert items[0].raw == data[: -len(b"\x1c\r")]  # as received, for the dead letter
    assert items[1:] == [Frame(b"MSH|next"), None]


def test_a_framing_error_over_the_size_limit_keeps_only_the_head() -> None:
    data = b"junk" + frame(MESSAGE + b"x" * (20 * MAX))
    [item, end] = read_all(data)
    assert isinstance(item, FramingError) and end is None
    assert "over the limit" in item.reason and len(item.raw) <= MAX


def test_fs_without_cr_ends_the_frame_when_the_next_frame_follows() -> None:
    assert read_all(b"\x0bMSH|one\x1c" + frame(b"MSH|two")) == [Frame(b"MSH|one"), Frame(b"MSH|two"), None]


def test_fs_without_cr_is_not_waited_for_beyond_the_grace() -> None:
    """The sender sends <VT>message<FS> and waits for its ACK: the frame is taken as ended."""

    async def run() -> tuple[Item, float]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"\x0b" + MESSAGE + b"\x1c")  # no <CR>, and the connection stays open
        frames = FrameReader(reader, MAX, idle_timeout=30, frame_timeout=30, fs_grace=0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        item = await asyncio.wait_for(frames.next(), 5)
        elapsed = loop.time() - started
        reader.feed_data(b"\r" + frame(b"MSH|two"))  # a late <CR> is read past as a line end
        assert await asyncio.wait_for(frames.next(), 5) == Frame(b"MSH|two")
        return item, elapsed

    item, elapsed = asyncio.run(run())
    assert item == Frame(MESSAGE)
    assert elapsed < 2


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "idle"),  # a connection that never sends
        (frame(b"MSH|one"), "idle"),  # one message, then silence
        (b"\x0bMSH|half a frame", "frame"),  # a frame begun and never ended
        (b"\r\n", "idle"),  # line ends are not a frame
    ],
)
def test_waiting_is_bounded_by_the_idle_and_frame_timeouts(data: bytes, kind: str) -> None:
    async def run() -> str:
        reader = asyncio.StreamReader()
        reader.feed_data(data)  # no EOF: the peer keeps the connection open
        frames = FrameReader(reader, MAX, idle_timeout=0.3, frame_timeout=0.3)
        try:
            while True:
                await asyncio.wait_for(frames.next(), 5)
        except ReadTimeout as exc:
            return exc.kind

    assert asyncio.run(run()) == kind


def test_a_frame_sent_byte_by_byte_within_the_frame_timeout_is_read() -> None:
    async def run() -> Item:
        reader = asyncio.StreamReader()
        frames = FrameReader(reader, MAX, idle_timeout=5, frame_timeout=5)

        async def trickle() -> None:
            for byte in frame(MESSAGE):
                reader.feed_data(bytes([byte]))
                await asyncio.sleep(0)

        feeder = asyncio.create_task(trickle())
        item = await asyncio.wait_for(frames.next(), 5)
        await feeder
        return item

    assert asyncio.run(run()) == Frame(MESSAGE)
