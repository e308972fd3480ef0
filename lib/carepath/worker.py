"""What every Faust worker shares: health, readiness and metrics pages, lag tracking, partition ownership.

The agent bodies stay thin: decode, call the pure core, store state, send results. This module holds
the plumbing around them so triage and followup do not each write it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from fastapi import FastAPI, Request, Response
from faust.types import TP

from carepath import metrics_page
from carepath.settings import CommonSettings
from carepath.stream_metrics import CONSUMER_LAG, CONSUMER_POSITION
from carepath.streaming import App


class WorkerShell:
    """Attach /healthz, /readyz and /metrics to a Faust app and keep consumer-lag gauges current."""

    def __init__(self, app: App, service: str, topics: Iterable[str], api: FastAPI | None = None) -> None:
        self.app = app
        self.api = api or FastAPI(
            title=f"carepath {service}", version="1", **CommonSettings().api_documentation
        )
        self.service = service
        self.topics = tuple(topics)
        self.started = time.monotonic()
        self._position: dict[TP, int] = {}
        self._position_gauges: dict[TP, Any] = {}
        self._partitioner = DefaultPartitioner()
        self._install_pages()
        app.timer(1.0)(self._update_lag)

    # --- offsets and lag -------------------------------------------------------------------------------
    def processed_batch(self, messages: Iterable[Any]) -> dict[TP, int]:
        """:meth:`processed` once per partition of a handled batch, with its last offset (a gauge set per
        partition, not per message); returns those offsets."""
        last: dict[TP, int] = {}
        for m in messages:
            tp, offset = m.tp, m.offset
            if offset > last.get(tp, -1):
                last[tp] = offset
        for tp, offset in last.items():
            self.processed(tp, offset)
        return last

    def processed(self, tp: TP, offset: int) -> None:
        """Record that everything up to ``offset`` on ``tp`` has been processed."""
        if offset >= self._position.get(tp, -1):
            self._position[tp] = offset
            gauge = self._position_gauges.get(tp)
            if gauge is None:
                gauge = CONSUMER_POSITION.labels(self.service, tp.topic, str(tp.partition))
                self._position_gauges[tp] = gauge
            gauge.set(offset + 1)

    async def _update_lag(self) -> None:
        # Lag is measured from the fetch high-watermark, which is right on Kafka and on the embedded broker
        # (whose ListOffsets answer is not; see carepath/profile.py).
        consumer = self.app.consumer
        for tp in self.app.assignor.assigned_actives():
            if tp.topic not in self.topics:
                continue
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            done = self._position.get(tp)
            lag = highwater - (done + 1) if done is not None else highwater - self._committed(tp)
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(lag, 0))

    def _committed(self, tp: TP) -> int:
        offsets: Any = getattr(self.app.consumer, "_committed_offset", {})  # last committed by this worker
        committed = offsets.get(tp)
        return int(committed) if committed is not None else 0

    # --- ownership ----------------------------------------------------------------------------------------
    def partition_of(self, key: bytes, partitions: int) -> int:
        """The partition of ``key`` on every topic (they are co-partitioned by patient id)."""
        return int(self._partitioner(key, list(range(partitions)), list(range(partitions))))

    def owns(self, key: bytes, partitions: int) -> bool:
        """True when this worker is the active owner of ``key``'s partition (reads for the API)."""
        partition = self.partition_of(key, partitions)
        actives = self.app.assignor.assigned_actives()
        return any(tp.partition == partition and tp.topic in self.topics for tp in actives)

    def recovered_partitions(self) -> frozenset[int]:
        """Partitions this worker actively owns *and* whose tables are recovered for the current
        assignment; empty from the moment a rebalance starts until its table recovery has completed.

        Timers fire and publish only for these. Faust runs ``app.timer`` whatever the assignment and
        recovery state, and ``recovery.completed`` stays set after the first recovery, so neither is
        enough: ``tables.actives_ready`` is cleared when a rebalance starts and set once the actives'
        changelogs have been read to their end. Empty too once the worker has begun to stop: it is about
        to stop its consumer and tables and hand its partitions over."""
        app = self.app
        tables: Any = app.tables
        recovery: Any = getattr(tables, "recovery", None)
        if not app.consumer or app.rebalancing or app.should_stop:
            return frozenset()
        if tables.changelog_topics and (
            not tables.actives_ready or (recovery is not None and recovery.in_recovery)
        ):
            return frozenset()
        return frozenset(tp.partition for tp in app.assignor.assigned_actives() if tp.topic in self.topics)

    # --- pages --------------------------------------------------------------------------------------------
    def ready(self) -> tuple[bool, str]:
        app = self.app
        if not app.consumer or app.rebalancing:
            return False, "rebalancing"
        recovery: Any = getattr(app.tables, "recovery", None)
        if app.tables.changelog_topics and recovery is not None and not recovery.completed.is_set():
            return False, "recovering tables"
        if not self._assigned() and time.monotonic() - self.started < 60:
            return False, "waiting for partition assignment"
        return True, "ready"

    def _assigned(self) -> bool:
        """Whether the consumer holds a partition of the worker's input topics. (The assignor's active
        partitions are those of its tables' source topics, none for a worker without a table.) A worker
        left without one (more workers than partitions) is called ready after a minute all the same: it
        stands by, its probe is not a failure."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # the consumer is being replaced: not assigned yet
            return False
        return any(tp.topic in self.topics for tp in assignment)

    def _install_pages(self) -> None:
        api = self.api

        @api.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": self.service}

        @api.get("/readyz", tags=["operations"], summary="Readiness: partitions assigned, tables recovered")
        async def readyz(response: Response) -> dict[str, str]:
            ok, why = self.ready()
            response.status_code = 200 if ok else 503
            return {"status": why, "service": self.service}

        # /metrics: open, or behind CAREPATH_METRICS_TOKENS when set (read from the process's environment,
        # as the service's own settings were); the probes above stay open.
        metrics_tokens = CommonSettings().metrics_token_list

        @api.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
        async def metrics(request: Request) -> Response:
            return metrics_page.page(request.headers.get("authorization"), metrics_tokens)
