"""Kafka's murmur2, the hash its default partitioner places a keyed record by, compiled (setup.py).

The Java client's ``Utils.murmur2`` (MurmurHash2, 32 bits, seed ``0x9747b28c``), which aiokafka,
kafka-python and librdkafka's ``murmur2_random`` partitioner reproduce: a record with key ``k`` goes to
partition ``(murmur2(k) & 0x7fffffff) % partitions``. aiokafka's copy is Python and costs a few
microseconds a key, paid for every patient state a worker reads and writes; compiled with mypyc on 64-bit
integers this costs a few tens of nanoseconds. Held to aiokafka's and to the Java client's published
values (tests/unit/platform/test_murmur2.py); a build from other sources refuses to load (``carepath.compiled``).
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

SEED: Final = 0x9747B28C
M: Final = 0x5BD1E995  # the mixing constant
MASK: Final = 0xFFFFFFFF  # Java's int arithmetic, on 64-bit integers: every product fits before the mask


def murmur2(data: bytes) -> int:
    """The unsigned 32-bit murmur2 of ``data``, as Kafka's clients compute it."""
    length: i64 = len(data)
    h: i64 = (SEED ^ length) & MASK
    end: i64 = length & ~3
    i: i64 = 0
    while i < end:
        k: i64 = i64(data[i]) | (i64(data[i + 1]) << 8) | (i64(data[i + 2]) << 16) | (i64(data[i + 3]) << 24)
        k = (k * M) & MASK
        k ^= k >> 24
        k = (k * M) & MASK
        h = ((h * M) & MASK) ^ k
        i += 4
    extra: i64 = length & 3
    if extra >= 3:
        h ^= i64(data[end + 2]) << 16
    if extra >= 2:
        h ^= i64(data[end + 1]) << 8
    if extra >= 1:
        h ^= i64(data[end])
        h = (h * M) & MASK
    h ^= h >> 13
    h = (h * M) & MASK
    h ^= h >> 15
    return int(h)


def partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record keyed ``key`` among ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
