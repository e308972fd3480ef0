"""A worker's tables on disk: written only once the changelog holds them, checked against it at start.

Faust's RocksDB store keeps each table partition in a database of its own with the changelog offset it
has read up to; a restarted worker reads the changelog only past that offset, so it is ready in seconds
whatever the number of patients. Two things make that safe here:

* :func:`write_acknowledged` puts a batch's records in a partition's database, in one write with the
  changelog offset of the last of them, only after the broker has acknowledged them. The disk never holds
  a state the changelog lacks (a crash before the write leaves the older state and offset, and the
  changelog past it is read back), and data and offset cannot disagree.
* :func:`verify` runs before the worker starts and asks, for each database on disk, whether it was made
  from *this* changelog: the record at its offset must be in the changelog with the value the database
  holds for that key (the last write to that key is that record). A database made from another cluster or
  a recreated topic, from a log that has since been compacted past that record, or unreadable, is removed,
  and the partition is rebuilt from its changelog from the start. Never trusted on its word, in a service
  where a wrong patient state means a missed escalation.

Nothing read from a database or a record is logged: partitions, offsets and reasons only.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from carepath import logs

log = logs.get(__name__)
OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps a partition's changelog offset
FETCH_TIMEOUT_S = 10.0


def rocksdb_options() -> dict[str, Any]:
    """A table's RocksDB tuning, for each of its partitions' databases (a fresh dict each time: Faust's store
    takes keys out of the one it is given). Faust's defaults are for one large database: a 2 GiB block
    cache and three 64 MiB write buffers *per partition*, which on a worker holding 24 partitions could
    reach gigabytes. A patient's state is a few kilobytes written a few times a day; these bound a
    partition's database to about 12 MiB of memory (two 4 MiB write buffers and a 4 MiB block cache).
    Bloom filters of 10 bits a key (RocksDB's usual choice, ~1 % false positives; Faust's default is 3)
    spare most reads of a patient new to the worker a look into each file: 4.2 -> 3.5 µs a read over
    the bench workload (100,000 patients), for ~1.2 bytes of memory a patient."""
    return {
        "write_buffer_size": 4 * 1024 * 1024,
        "max_write_buffer_number": 2,
        "block_cache_size": 4 * 1024 * 1024,
        "bloom_filter_size": 10,
    }


def on_disk(data: Any) -> bool:
    """Whether a table's store is Faust's RocksDB store."""
    from faust.stores.rocksdb import Store

    return isinstance(data, Store)


def write_acknowledged(data: Any, records: Iterable[tuple[int, int, bytes, bytes]]) -> None:
    """Put ``(partition, offset, key, value)`` changelog records the broker has acknowledged into a RocksDB
    store: one write per partition, its data and its new changelog offset together."""
    from rocksdict import WriteBatch

    batches: dict[int, Any] = {}
    last: dict[int, int] = defaultdict(lambda: -1)
    for partition, offset, key, value in records:
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = WriteBatch(raw_mode=True)
        batch.put(key, value)
        last[partition] = max(last[partition], offset)
        data._key_index[key] = partition  # Faust's key -> partition cache: a read goes to one database
    for partition, batch in batches.items():
        batch.put(OFFSET_KEY, str(last[partition]).encode())
        data._db_for_partition(partition).write(batch)


def verify(tabledir: Path, changelogs: Mapping[str, str], kafka: Mapping[str, Any]) -> dict[str, int]:
    """Remove every table database under ``tabledir`` not made from the changelog the broker holds now.

    ``changelogs``: table name -> changelog topic; ``kafka``: kafka-python's connection arguments. Returns
    the count of databases kept and removed. A database locked by another process is left alone (Faust
    waits for it when it opens it)."""
    from rocksdict import Options, Rdict

    kept = removed = 0
    candidates: list[tuple[Path, str, int, int, Any]] = []
    for table, topic in changelogs.items():
        for path in sorted(tabledir.glob(f"{table}-*.db")):
            suffix = path.name[len(table) + 1 : -len(".db")]
            if not suffix.isdigit():
                continue
            try:
                db = Rdict(str(path), options=Options(raw_mode=True))
            except Exception as exc:  # locked, or unreadable: the reason decides
                if "lock" in str(exc).lower():
                    log.info("table partition in use by another process", topic=topic, partition=int(suffix))
                    continue
                _remove(path, topic, int(suffix), "unreadable")
                removed += 1
                continue
            raw = db.get(OFFSET_KEY)
            if raw is None:  # opened but never written: nothing to keep
                db.close()
                shutil.rmtree(path, ignore_errors=True)
                continue
            candidates.append((path, topic, int(suffix), int(raw), db))
    if not candidates:
        return {"kept": 0, "removed": removed}
    records = _records_at(
        kafka, [(topic, partition, offset) for _, topic, partition, offset, _ in candidates]
    )
    for path, topic, partition, offset, db in candidates:
        record = records.get((topic, partition))
        if record is None:
            reason = "changelog has no record at its offset"
        elif record[0] != offset:
            reason = "changelog compacted past its offset"
        elif db.get(record[1]) != record[2]:
            reason = "differs from the changelog at its offset"
        else:
            reason = ""
        db.close()
        if reason:
            _remove(path, topic, partition, reason)
            removed += 1
        else:
            kept += 1
            log.info("table partition kept", topic=topic, partition=partition, offset=offset)
    return {"kept": kept, "removed": removed}


def _remove(path: Path, topic: str, partition: int, reason: str) -> None:
    log.warning(
        "table partition removed, to be rebuilt from its changelog",
        topic=topic,
        partition=partition,
        reason=reason,
    )
    shutil.rmtree(path, ignore_errors=True)


def _records_at(
    kafka: Mapping[str, Any], wanted: list[tuple[str, int, int]]
) -> dict[tuple[str, int], tuple[int, bytes, bytes | None]]:
    """The first record at or after each ``(topic, partition, offset)``: ``(offset, key, value)``; missing
    when the log ends before it."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50, **kafka)
    try:
        tps = {TopicPartition(t, p): o for t, p, o in wanted}
        consumer.assign(list(tps))
        for tp, offset in tps.items():
            consumer.seek(tp, offset)
        found: dict[tuple[str, int], tuple[int, bytes, bytes | None]] = {}
        open_tps = set(tps)
        deadline = time.monotonic() + FETCH_TIMEOUT_S
        while open_tps and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=200, max_records=len(open_tps) * 8)
            for tp in list(open_tps):
                msgs = polled.get(tp)
                if msgs:
                    m = msgs[0]
                    found[(tp.topic, tp.partition)] = (m.offset, m.key, m.value)
                elif (hw := consumer.highwater(tp)) is None or hw > tps[tp]:
                    continue  # not fetched yet
                open_tps.discard(tp)  # found, or the log ends before the offset (a fetch's high-watermark)
                consumer.pause(tp)
        return found
    finally:
        consumer.close()
