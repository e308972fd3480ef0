"""Where each consumer group stands: the high-watermark of every input partition (from fetch responses,
right on Kafka and on the embedded broker) and each group's committed offsets, polled in a thread.

A kill is *resumed* when everything that was on its service's input topics at the moment of the kill
has been processed and committed by the group (by the survivor or the restarted worker) and the
restarted worker answers ready: under a steady feed "lag back to 0" never holds for long, this does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from carepath import topics

INPUTS: dict[str, tuple[str, ...]] = {
    "triage": (topics.CLINICAL_EVENTS,),
    "followup": (topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.ACKNOWLEDGEMENTS),
    "notifier": (topics.ESCALATIONS, topics.REMINDERS),
}

TP = tuple[str, int]


class Monitor:
    def __init__(self, bootstrap: str, groups: dict[str, str], start: dict[TP, int] | None = None) -> None:
        """``groups``: service role -> consumer group id. ``start``: offsets the run's records begin at
        (a shared cluster); an input partition with nothing of this run counts as caught up."""
        self.bootstrap = bootstrap
        self.groups = groups
        self.start = start or {}
        self._lock = threading.Lock()
        self._high: dict[TP, int] = {}
        self._committed: dict[str, dict[TP, int]] = {g: {} for g in groups.values()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-monitor", daemon=True)
        self.error: str | None = None

    def begin(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    # --- reads ---------------------------------------------------------------------------------------------
    def highwaters(self, role: str) -> dict[TP, int]:
        wanted = set(INPUTS[role])
        with self._lock:
            return {tp: hw for tp, hw in self._high.items() if tp[0] in wanted}

    def caught_up(self, role: str, marks: dict[TP, int], positions: dict[TP, int] | None = None) -> bool:
        """Has ``role``'s group committed past every mark (a high-watermark taken earlier)? With
        ``positions`` (the next offset each partition's worker will process), processed counts as well."""
        seen = positions or {}
        with self._lock:
            done = self._committed[self.groups[role]]
            return all(
                max(done.get(tp, self.start.get(tp, 0)), seen.get(tp, 0)) >= hw for tp, hw in marks.items()
            )

    def lag(self, role: str) -> int:
        marks = self.highwaters(role)
        with self._lock:
            done = self._committed[self.groups[role]]
            return sum(max(hw - done.get(tp, self.start.get(tp, 0)), 0) for tp, hw in marks.items())

    def processed(self, role: str, positions: dict[TP, int] | None = None) -> int:
        """Input records ``role``'s group has committed since the run began (every input partition); with
        ``positions`` (the next offset each partition's worker will process), processed counts as well."""
        wanted = set(INPUTS[role])
        seen = positions or {}
        with self._lock:
            done = dict(self._committed[self.groups[role]])
        tps = {tp for tp in (*done, *seen) if tp[0] in wanted}
        return sum(max(max(done.get(tp, 0), seen.get(tp, 0)) - self.start.get(tp, 0), 0) for tp in tps)

    # --- the thread -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        consumer: Any = None
        admin: Any = None
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                client_id="carepath-chaos-monitor",
                fetch_max_wait_ms=50,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="carepath-chaos-monitor")
            names = sorted({t for ts in INPUTS.values() for t in ts})
            tps = [
                TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, self.start.get((tp.topic, tp.partition), 0))
            next_commit_read = 0.0
            failing_since = 0.0
            while not self._stop.is_set():
                consumer.poll(timeout_ms=100, max_records=20000)
                high = {
                    (tp.topic, tp.partition): h for tp in tps if (h := consumer.highwater(tp)) is not None
                }
                committed: dict[str, dict[TP, int]] = {}
                if time.monotonic() >= next_commit_read:
                    next_commit_read = time.monotonic() + 0.25
                    for group in self.groups.values():
                        found = _committed(admin, group)
                        if found is None:
                            failing_since = failing_since or time.monotonic()
                            if time.monotonic() - failing_since > 60:
                                raise RuntimeError(f"no committed offsets of {group} for 60 s")
                            continue
                        failing_since = 0.0
                        committed[group] = found
                with self._lock:
                    self._high.update(high)
                    for group, offsets in committed.items():
                        self._committed[group].update(offsets)
        except Exception as exc:  # reported by the run, which then cannot measure resumption
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            for client in (consumer, admin):
                if client is not None:
                    client.close()


def _committed(admin: Any, group: str) -> dict[TP, int] | None:
    try:
        offsets: Iterable[tuple[Any, Any]] = (admin.list_group_offsets(group).get(group) or {}).items()
    except Exception:  # the group is between generations, or its coordinator is moving: next time
        return None
    return {
        (tp.topic, tp.partition): int(om.offset)
        for tp, om in offsets
        if om.offset is not None and om.offset >= 0
    }
