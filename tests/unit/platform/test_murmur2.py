"""carepath.murmur2 is Kafka's partitioning hash, and a worker places keys exactly as its producer would."""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path
from types import ModuleType

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from carepath import murmur2, streaming

pytestmark = pytest.mark.unit

# The Java client's own test values (apache/kafka clients/.../utils/UtilsTest.java, testMurmur2), as
# signed 32-bit ints, and a few more from librdkafka's rdmurmur2.c tests.
JAVA = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
    b"1": -1993445489,
    b"12": 126087238,
    b"123": -267702483,
    b"1234": -1614185708,
    b"12345": -1188365604,
}


def _source() -> ModuleType:
    """carepath/murmur2.py as Python, whether or not the compiled module is what ``import`` finds."""
    spec = importlib.util.spec_from_file_location(
        "murmur2_source", Path(murmur2.__file__).with_name("murmur2.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMPLEMENTATIONS = {"as imported": murmur2, "source": _source()}


def _signed(h: int) -> int:
    return h - (1 << 32) if h >= 1 << 31 else h


def test_compiled_unless_the_build_says_otherwise() -> None:
    assert streaming.MURMUR2_COMPILED is (os.environ.get("CAREPATH_COMPILE_CORE", "1") != "0")
    assert not IMPLEMENTATIONS["source"].__file__.endswith(".so")


@pytest.mark.parametrize("which", IMPLEMENTATIONS)
@pytest.mark.parametrize(("key", "expected"), JAVA.items())
def test_the_java_clients_values(which: str, key: bytes, expected: int) -> None:
    assert _signed(IMPLEMENTATIONS[which].murmur2(key)) == expected


@pytest.mark.parametrize("which", IMPLEMENTATIONS)
def test_agrees_with_aiokafka_on_every_length_and_every_byte_value(which: str) -> None:
    implementation = IMPLEMENTATIONS[which]
    rnd = random.Random(7)
    keys = [b"", bytes(range(256)), bytes(range(255, -1, -1)), b"\xff" * 67]
    keys += [rnd.randbytes(n) for n in range(0, 130) for _ in range(40)]
    keys += [os.urandom(16).hex().encode() for _ in range(2_000)]  # patient keys' shape
    for key in keys:
        assert implementation.murmur2(key) == aiokafka_murmur2(key), key
        for count in (1, 3, 4, 12, 24, 7919):
            expected = DefaultPartitioner()(key, list(range(count)), list(range(count)))
            assert implementation.partition(key, count) == expected


class _Metadata:
    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


class _Producer:
    """aiokafka's producer, as far as placing a record goes (its ``_partition``, verbatim in behaviour)."""

    def __init__(self, partitions: int, partitioner: object) -> None:
        self._metadata = _Metadata(set(range(partitions)))
        self._partitioner = partitioner
        self.asked = 0

    def _partition(
        self, topic: str, partition: None, key: None, value: None, skey: bytes | None, sv: None
    ) -> int:
        self.asked += 1
        parts = list(self._metadata.partitions_for_topic(topic))
        chosen: int = self._partitioner(skey, parts, parts)  # type: ignore[operator]
        return chosen


def test_a_worker_places_a_key_where_its_producer_would_without_asking_it() -> None:
    producer = _Producer(12, DefaultPartitioner())
    placement = streaming._Placement(producer, "clinical-events")
    keys = [os.urandom(16).hex().encode() for _ in range(500)]
    assert [placement.of(k) for k in keys] == [
        producer._partition("t", None, None, None, k, None) for k in keys
    ]
    assert producer.asked == len(keys)  # only by the comparison
    assert placement.of(None) in range(12)  # no key: the producer's choice


def test_another_partitioner_is_asked() -> None:
    producer = _Producer(4, lambda key, parts, available: 3)
    placement = streaming._Placement(producer, "clinical-events")
    assert placement.of(b"anything") == 3 and producer.asked == 1
