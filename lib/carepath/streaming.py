"""Faust app factory: one place where a worker's Faust configuration is built from settings.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. On a broker that sleeps the whole fetch
wait (the embedded one) that alone sets pipeline latency, and on Kafka it bounds nothing useful, so the
consumer here takes its fetch wait from the broker profile instead.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ParamSpec

import faust
from aiokafka.partitioner import DefaultPartitioner
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from carepath import collector, compiled, fetch_batches, kafka_security, logs, murmur2, table_state, topics
from carepath.fetch_batches import BatchSource
from carepath.profile import PRODUCER_BATCH_BYTES, BrokerProfile
from carepath.settings import CommonSettings, TableSettings

P = ParamSpec("P")
MAX_POLL_RECORDS = 1000
log = logs.get(__name__)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.app.conf.carepath_fetch_max_wait_ms
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        reported: Mapping[TP, int] = await super()._highwaters(partitions)
        if not self.app.conf.carepath_end_offsets_from_fetch or not partitions:
            return reported
        bootstrap = [f"{u.host}:{u.port}" for u in self.app.conf.broker]
        security = self.app.conf.carepath_kafka_python_kwargs
        return await asyncio.to_thread(highwaters_from_fetch, bootstrap, list(partitions), reported, security)


def highwaters_from_fetch(
    bootstrap: list[str],
    tps: list[TP],
    reported: Mapping[TP, int],
    security: Mapping[str, Any] | None = None,
) -> dict[TP, int]:
    """End offsets as a fetch response reports them (its high-watermark), for a broker whose ListOffsets
    answer can be short (see carepath.profile). Never lower than ``reported``. ``security``: the client's
    TLS/SASL arguments (:func:`carepath.kafka_security.kafka_python_kwargs`)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        **(security or {}),
    )
    try:
        ktps = {tp: TopicPartition(tp.topic, tp.partition) for tp in tps}
        consumer.assign(list(ktps.values()))
        for tp, ktp in ktps.items():
            consumer.seek(ktp, max((reported.get(tp) or 0) - 1, 0))
        found: dict[TP, int] = {}
        deadline = time.monotonic() + 10
        while len(found) < len(ktps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no fetch high-watermark for {sorted(set(ktps) - set(found))}")
            consumer.poll(timeout_ms=100)
            for tp, ktp in ktps.items():
                hw = consumer.highwater(ktp)
                if hw is not None:
                    found[tp] = max(int(hw), reported.get(tp) or 0)
        return found
    finally:
        consumer.close()


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        sources: dict[str, BatchSource] = getattr(self.app, "carepath_batch_sources", {})
        if not sources:
            return await super()._drain_messages(fetcher)
        await fetch_batches.drain(self, fetcher, sources)


class _Producer(faust_aiokafka.Producer):
    async def flush(self) -> None:
        """Everything sent so far (table changelog writes included) acknowledged by the broker.

        Faust's buffer flush gives up once no message has left the buffer for 0.1 s, which on a busy
        event loop returns with table writes still buffered: a consumer commit (which flushes first)
        then records input offsets whose state is not yet in the changelog, and a crash loses that
        state. This waits until the buffer is empty."""
        while self.buffer.size:
            await self.buffer.flush()
            if self.buffer.size:
                await asyncio.sleep(0.001)
        await super().flush()


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer


class App(faust.App):
    """A Faust app whose consumer fetch wait follows the broker profile, and whose workers' input topics
    are handed over a fetch at a time (:mod:`carepath.fetch_batches`) unless ``CAREPATH_STREAM_SHELL`` is
    ``events`` (Faust's own agents and streams, for comparison)."""

    carepath_batch_sources: dict[str, BatchSource]

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def before_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` when the worker begins to stop, before Faust stops its consumer and tables.

        A stopping worker gets no revocation signal: Faust's rebalance callback returns at once when the
        app is stopping, and it stops the consumer (which leaves the group, handing the partitions over)
        and the tables before ``on_before_shutdown``. A service that writes on its own schedule (a timer)
        stops doing so here, while its table is intact and before its partitions can have a new owner."""
        self.__dict__.setdefault("carepath_before_stop", []).append(hook)

    async def on_stop(self) -> None:
        for hook in self.__dict__.get("carepath_before_stop", ()):
            await hook()
        await super().on_stop()


def make_app(app_id: str, settings: CommonSettings, *, web_port: int, **overrides: Any) -> App:
    p: BrokerProfile = settings.profile
    on_disk = isinstance(settings, TableSettings) and settings.table_store == "rocksdb"
    if isinstance(settings, TableSettings) and on_disk:
        # one per worker process (RocksDB locks its files); absolute: Faust reads a relative tabledir from
        # its own versioned app directory
        datadir = settings.table_dir(app_id, web_port).resolve()
    else:
        datadir = (
            Path(tempfile.gettempdir()) / "carepath" / app_id
        )  # Faust wants one; memory tables leave it empty
    datadir.mkdir(parents=True, exist_ok=True)
    conf: dict[str, Any] = {
        "broker": [f"kafka://{h}" for h in settings.bootstrap_list],
        # TLS, mTLS and SASL for every connection Faust makes (consumer, producer, admin)
        "broker_credentials": kafka_security.faust_credentials(settings),
        # rocksdb (rocksdict): each table partition a database under datadir, its changelog offset beside
        # the data, so a restart reads the changelog only past it (:func:`store`, :mod:`carepath.table_state`)
        "store": "rocksdb://" if on_disk else "memory://",
        # Bytes in, bytes out: services encode and decode their own JSON (orjson), once per record.
        "key_serializer": "raw",
        "value_serializer": "raw",
        "datadir": str(datadir),
        "tabledir": str(datadir),
        "processing_guarantee": "at_least_once",
        "topic_partitions": _partitions(),
        "topic_replication_factor": 1 if p.name == "embedded" else 3,
        "topic_allow_declare": True,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": p.session_timeout_s,
        "broker_heartbeat_interval": p.heartbeat_interval_s,
        "broker_rebalance_timeout": p.rebalance_timeout_s,
        "broker_request_timeout": p.request_timeout_s,
        "broker_commit_interval": 0.5,
        # A fetch handed over at once (carepath.fetch_batches) is at most this many records: without a
        # bound a worker draining a backlog holds every prefetched record of every partition as messages
        # at once (about 200 MB more at 100,000 patients).
        "broker_max_poll_records": MAX_POLL_RECORDS,
        "producer_acks": -1,
        "producer_linger_ms": p.producer_linger_ms,
        "producer_max_batch_size": PRODUCER_BATCH_BYTES,
        # Faust's own web server is off: the worker's FastAPI app (carepath.webserver) answers on this
        # URL, which the assignor shares with the other workers for routing by patient.
        "web_enabled": False,
        "web_port": web_port,
        "web_host": settings.bind_host,
        "canonical_url": f"http://{_advertised(settings.bind_host)}:{web_port}",
        "table_cleanup_interval": 30.0,
        # No standby replicas: a partition's next owner reads its changelog when it takes it over. Faust's
        # standby recovery seeks partitions assigned while it was building their start offsets to no
        # offset at all (ValueError), which ends the worker under quick successive rebalances; and a
        # standby copy doubles every worker's changelog reading and memory for in-memory tables.
        "table_standby_replicas": 0,
        "stream_wait_empty": False,
        "autodiscover": False,
        "loghandlers": [],
        "logging_config": logs.logging_config(settings.log_level),
    }
    conf.update(overrides)
    app = App(app_id, **conf)
    app.conf.carepath_fetch_max_wait_ms = p.fetch_max_wait_ms
    app.conf.carepath_end_offsets_from_fetch = p.end_offsets_from_fetch
    app.conf.carepath_kafka_python_kwargs = kafka_security.kafka_python_kwargs(settings)
    app.conf.carepath_stream_shell = settings.stream_shell
    return app


def _advertised(bind_host: str) -> str:
    if bind_host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere: advertise our name
        import socket

        return socket.gethostname()
    return bind_host


def _partitions() -> int:
    from carepath.topics import partitions

    return partitions()


def fail_fast(service: str, exc: BaseException) -> None:
    """An error in the shell itself (not in one event: those are dead-lettered) ends the process.

    A Faust agent that raises stops consuming while the process stays up, which would stall its
    partitions silently. Exiting instead lets the supervisor restart the worker, which resumes from the
    last committed offset: at-least-once, with duplicates suppressed by id.
    """
    import os
    import sys
    import traceback

    import orjson

    # the frames (file, line, function), never the exception's message: it can quote a record's content
    frames = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)][-20:]
    line = {
        "level": "critical",
        "service": service,
        "event": "worker stopping on an unexpected error",
        "error": type(exc).__name__,
        "frames": frames,
    }
    sys.stderr.write(orjson.dumps(line).decode() + "\n")
    sys.stderr.flush()
    os._exit(70)


def guard(service: str, fn: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """``fn`` for an agent, timer or task: an error it does not handle ends the worker (:func:`fail_fast`)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await fn(*args, **kwargs)
        except Exception as exc:
            fail_fast(service, exc)

    return run


def batch_agent(
    app: App,
    source: Any,
    *,
    name: str,
    service: str,
    batch_max: int,
    within: float,
    handle: Callable[[list[Any]], Awaitable[None]],
) -> None:
    """Hand ``source``'s messages to ``handle`` in batches of up to ``batch_max``; Faust commits an offset
    only once its batch has been handled. By default each fetch is a batch (:mod:`carepath.fetch_batches`);
    with ``CAREPATH_STREAM_SHELL=events`` an agent takes Faust's events and waits at most ``within``
    seconds for a batch to fill. ``handle`` gets Faust ``Message`` objects (``key``, ``value``, ``tp``,
    ``offset``, ``timestamp``) either way.

    Only events of the current assignment are handled (:func:`current_events`): Faust's batch buffer
    outlives a rebalance, and an event fetched before one would otherwise be handled during it or after
    it, by a worker that may no longer own its partition, with state the partition's new owner never reads.
    """
    handle_guarded = guard(service, handle)
    if app.conf.carepath_stream_shell == "batch":
        sources = app.__dict__.setdefault("carepath_batch_sources", {})
        entry = BatchSource(service, frozenset(source.topics), handle_guarded, batch_max)
        sources.update(dict.fromkeys(source.topics, entry))
        app.topics.add(source)  # subscribed as an agent's topic is; no agent reads it
        return

    async def consume(stream: Any) -> None:
        async for events in stream.take_events(batch_max, within=within):
            current = await current_events(app, service, events)
            if current:
                await handle_guarded([e.message for e in current])

    app.agent(source, name=name)(consume)


async def current_events(app: Any, service: str, events: Iterable[Any]) -> list[Any]:
    """The events of a Faust batch that belong to the current assignment (:class:`fetch_batches.Fence`'s
    rule); the others are marked as acknowledged on the message only, never to the consumer, so their
    offsets are not committed, and are read again.

    Faust stamps each fetched message with the consumer group generation and skips a stale one when a
    stream takes it, but an event already in a batch buffer when a rebalance starts is handed over after
    it, while partitions are being moved or once they have moved. Handled then, its state is written
    from a table the partition's next owner may have recovered already (that owner never reads it), and
    its offset is acknowledged, so a commit can record it past what the next owner reads: the event's
    effect is lost."""
    fence = fetch_batches.Fence(app, service)
    events = list(events)
    current = fence.take([e.message for e in events])
    kept = {id(m) for m in current}
    for e in events:
        if id(e.message) not in kept:
            e.message.acked = True  # the batch's final ack then skips the consumer (Message.ack)
    await fence.rewind(app.consumer)
    return [e for e in events if id(e.message) in kept]


def patient_table(app: App, name: str) -> Any:
    """A table of bytes keyed by patient id, written with :func:`store`. ``use_partitioner``: the changelog
    partition follows the key, exactly as the input topics' do, whichever record (or none: a timer) is
    current when the state is written. On disk each partition's database is bounded
    (:func:`carepath.table_state.rocksdb_options`)."""
    return app.Table(
        name,
        default=None,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,
        options=table_state.rocksdb_options(),
    )


# Keys whose partition a worker remembers, per topic (about 150 bytes each), when the producer places keys
# some other way than Kafka's default partitioner: a patient's state is read and written in the same batch.
PLACEMENT_CACHE = 1 << 14

# Whether carepath.murmur2 runs compiled (setup.py); an ImportError if compiled from other sources.
MURMUR2_COMPILED = compiled.check(murmur2.__file__, Path(compiled.__file__).with_name("murmur2.py"))


class _Placement:
    """The partition of each key of one topic, exactly as the Kafka producer places a record sent with no
    partition (Faust's ``topic.send``, a table with ``use_partitioner``). With the producer's default
    partitioner (Faust's, unless ``producer_partitioner`` is set) that is murmur2 of the key over the
    topic's partitions, computed here by the compiled :mod:`carepath.murmur2` (aiokafka's own is Python and
    cost a worker ~4 µs an event); otherwise the producer's partitioner is asked, and its answers remembered
    for the most recent keys. A record without a key goes where the producer's partitioner puts it. A topic's
    partition count cannot change under a running worker (checked at start-up, see :func:`run_worker`)."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer, self.topic = producer, topic
        partitions = set(producer._metadata.partitions_for_topic(topic) or ())
        self.count = len(partitions)
        self.of: Callable[[bytes | None], int]
        if (
            type(producer._partitioner) is DefaultPartitioner
            and partitions == set(range(self.count))
            and partitions
        ):
            self.of = self._murmur2
        else:
            self.of = functools.lru_cache(maxsize=PLACEMENT_CACHE)(self._compute)

    def _murmur2(self, key: bytes | None) -> int:
        return self._compute(key) if key is None else murmur2.partition(key, self.count)

    def _compute(self, key: bytes | None) -> int:
        partition: int = self.producer._partition(self.topic, None, None, None, key, None)
        return partition


async def _placement(app: Any, topic: str) -> tuple[Any, _Placement]:
    """The app's Kafka producer (aiokafka's, under Faust's) and ``topic``'s placement, once the producer
    knows the topic."""
    producer = app.producer._ensure_producer()
    await producer.client._wait_on_metadata(topic)
    placements: dict[str, _Placement] = app.__dict__.setdefault("carepath_placements", {})
    placement = placements.get(topic)
    if placement is None or placement.producer is not producer:
        placement = placements[topic] = _Placement(producer, topic)
    return producer, placement


# A record for :func:`publish`: its key (None: any partition, as the producer's partitioner picks) and value.
Record = tuple[bytes | None, bytes]


def _batches(
    producer: Any, placement: _Placement, records: Iterable[Record], headers: list[tuple[str, bytes]]
) -> list[tuple[int, Any, list[bytes | None]]]:
    """``records`` as producer record batches: one per partition (more only when one fills), each with the
    keys it holds in order. The batches are built here, in one pass, instead of a send and a future per
    record through the producer's accumulator."""
    place = placement.of
    open_batches: dict[int, tuple[Any, list[bytes | None]]] = {}
    full: list[tuple[int, Any, list[bytes | None]]] = []
    for key, value in records:
        partition = place(key) if key is not None else placement._compute(None)
        current = open_batches.get(partition)
        if (
            current is None
            or current[0].append(timestamp=None, key=key, value=value, headers=headers) is None
        ):
            if current is not None:
                full.append((partition, *current))
            builder = producer.create_batch()
            if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                raise ValueError(f"a {len(value)}-byte record does not fit in a producer batch")
            open_batches[partition] = (builder, [key])
        else:
            current[1].append(key)
    full.extend((partition, builder, keys) for partition, (builder, keys) in open_batches.items())
    return full


async def publish(app: Any, records: Mapping[str, Iterable[Record]]) -> None:
    """Send ``records`` (per topic), each with its topic's headers (:func:`carepath.topics.headers`), and
    return once the broker has acknowledged every one; raises if any was refused.

    Placed exactly as Faust's ``topic.send`` places a record sent without a partition, but built into one
    record batch per partition and handed to the Kafka producer together: a topic's send goes one record
    at a time through Faust and the producer's accumulator, each with a future, sensors and an await, and
    a followup worker publishing a batch's reminders and audit records that way spent more time on them
    than on the batch's clinical logic."""
    sent = []
    for topic, items in records.items():
        producer, placement = await _placement(app, topic)
        headers = topics.header_list(topic)
        for partition, builder, _ in _batches(producer, placement, items, headers):
            sent.append(await producer.send_batch(builder, topic, partition=partition))
    for fut in sent:
        await fut


async def reader(table: Any, keys: Iterable[bytes] | None = None) -> Callable[[bytes], bytes | None]:
    """A read of one key's stored value for a batch: ``table.get``, without Faust's way there.

    Faust's ``table.get`` asks its store whether the key is there and then reads it, through its mapping
    layers; a RocksDB store looks a key it has not seen yet up in every partition's database, twice (24
    look-ups for a patient new to this worker). Here a table in memory is read from its dictionary, and
    one on disk from the one database the key's changelog partition is kept in (the partition
    :func:`store` writes it to), falling back to Faust's read if that database is not open.

    ``keys``: the keys the batch will read, read from disk now, together, one multi-get per database
    (~20 % less a read than one at a time); a key not among them is still read when asked for. Only for a
    batch that writes nothing into the table before it has read every key."""
    data = table.data
    if not table_state.on_disk(data):
        values: Mapping[bytes, bytes] = data.data
        return values.get
    _, placement = await _placement(table.app, table.changelog_topic.get_topic_name())
    dbs: Mapping[int, Any] = data._dbs
    place = placement.of
    fallback = table.get

    def get(key: bytes) -> bytes | None:
        db = dbs.get(place(key))
        if db is None:
            value: bytes | None = fallback(key)
            return value
        found: bytes | None = db.get(key)
        return found

    if keys is None:
        return get
    by_partition: dict[int, list[bytes]] = {}
    for key in dict.fromkeys(keys):
        by_partition.setdefault(place(key), []).append(key)
    read: dict[bytes, bytes | None] = {}
    for partition, wanted in by_partition.items():
        db = dbs.get(partition)
        if db is None:
            read.update((key, fallback(key)) for key in wanted)
        else:
            read.update(zip(wanted, db.get(wanted), strict=True))

    def prefetched(key: bytes) -> bytes | None:
        return read[key] if key in read else get(key)

    return prefetched


async def store(table: Any, items: Mapping[bytes, bytes]) -> None:
    """Write ``items`` into ``table`` and its changelog, one record per key, and return once the broker has
    acknowledged every record.

    ``table[key] = value`` queues each changelog record in Faust's producer buffer, which a single task
    drains one record and one await at a time, and only a stream's flow control waits for it: a worker
    writing a thousand patients per batch outran it, the buffer grew by every write (170,000 pending
    records and 200 MB more memory while draining a backlog) and each commit waited for it to empty.
    Here the records are put into one record batch per changelog partition, placed by key exactly as the
    producer places a record sent without a partition (``use_partitioner``), and the batches are handed
    to the Kafka producer together: one acknowledgement per partition, not a future, a send and a
    metadata object per record.

    A table in memory takes the values at once. A table on disk (RocksDB) takes them only once the
    changelog holds them, each partition's records in one write together with the changelog offset of the
    last (:func:`carepath.table_state.write_acknowledged`): the disk never holds a state the changelog
    lacks, so after a crash the state read back from disk and the changelog past its offset is the state
    the changelog holds."""
    if not items:
        return
    data = table.data
    on_disk = table_state.on_disk(data)
    if not on_disk:
        for key, value in items.items():
            data[key] = value
    topic = table.changelog_topic.get_topic_name()
    producer, placement = await _placement(table.app, topic)
    full = _batches(producer, placement, items.items(), [])
    sent = [
        (keys, await producer.send_batch(builder, topic, partition=partition))
        for partition, builder, keys in full
    ]
    written = [(keys, await fut) for keys, fut in sent]
    if on_disk:
        table_state.write_acknowledged(
            data,
            [
                (meta.partition, meta.offset + i, key, items[key])
                for keys, meta in written
                for i, key in enumerate(keys)
                if key is not None
            ],
        )


def run_worker(app: App, settings: CommonSettings) -> None:
    """Run ``app`` as a Faust worker, quiet: no banner, no terminal spinner (Faust draws one when its level
    is warnings or above, hence "info" here; Faust's, mode's and aiokafka's own loggers are held at warnings
    by :func:`carepath.logs.logging_config`, and every line is JSON). Its web server stays off (the
    worker's FastAPI app serves HTTP).

    First the topics it shares the patient key with, and its tables' changelogs, must have the configured
    partition count (:func:`carepath.topics.verify_partitions`): otherwise the process ends naming them."""
    import sys

    changelogs = [table.changelog_topic.get_topic_name() for table in app.tables.values()]
    kafka = {"bootstrap_servers": settings.bootstrap_list, **kafka_security.kafka_python_kwargs(settings)}
    try:
        topics.verify_partitions(kafka, also=changelogs)
    except topics.PartitionCheckFailed as exc:
        raise SystemExit(f"{app.conf.id}: {exc}") from None
    if str(app.conf.store).startswith("rocksdb"):
        tables = {table.name: table.changelog_topic.get_topic_name() for table in app.tables.values()}
        table_state.verify(Path(app.conf.tabledir), tables, kafka)
    level = "debug" if settings.log_level == "debug" else "info"
    sys.argv = [sys.argv[0], "--quiet", "worker", "--without-web", "--loglevel", level]
    collector.tune(settings.gc_thresholds)
    app.main()
