"""A publish is settled once: when its last record is acknowledged, or at its first failure, whichever
thread the producer reports from."""

from __future__ import annotations

import asyncio
import threading

import pytest

from intake.publisher import PublishError, _Acknowledgements

pytestmark = pytest.mark.unit


async def _settled(acks: _Acknowledgements) -> BaseException | None:
    try:
        await asyncio.wait_for(acks.done, timeout=5)
    except PublishError as exc:
        return exc
    return None


def test_done_only_when_every_record_is_acknowledged_from_several_threads() -> None:
    async def run() -> None:
        acks = _Acknowledgements(400, asyncio.get_running_loop())
        threads = [threading.Thread(target=lambda: [acks.ok(None) for _ in range(100)]) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        await asyncio.sleep(0.05)
        assert not acks.done.done()  # 300 of 400
        acks.ok(None)
        await asyncio.sleep(0.05)
        assert not acks.done.done()  # 301 of 400
        for _ in range(99):
            acks.ok(None)
        assert await _settled(acks) is None

    asyncio.run(run())


def test_the_first_failure_settles_it_and_later_answers_change_nothing() -> None:
    async def run() -> None:
        acks = _Acknowledgements(3, asyncio.get_running_loop())
        acks.ok(None)
        threading.Thread(target=acks.failed, args=(RuntimeError("NotLeaderForPartition"),)).start()
        error = await _settled(acks)
        assert isinstance(error, PublishError) and "NotLeaderForPartition" in str(error)
        acks.ok(None)
        acks.ok(None)  # the rest acknowledged after all: still a failed publish, told once
        acks.failed(RuntimeError("second"))
        await asyncio.sleep(0.05)
        assert isinstance(acks.done.exception(), PublishError)
        assert "second" not in str(acks.done.exception())

    asyncio.run(run())
