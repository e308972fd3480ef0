"""An in-memory index of when each patient next needs attention.

The table is the truth (changelog-backed, survives restarts and rebalances); this index only saves the
timer from decoding every patient on every tick. It is rebuilt from the table whenever the worker's
partition assignment changes, so a deadline that moved here from another worker is found.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable


class DueIndex:
    def __init__(self) -> None:
        self._due: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []

    def set(self, key: bytes, due: float | None) -> None:
        if due is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, key))
        self._compact()

    def pop_due(self, now: float) -> list[bytes]:
        """Keys whose next deadline is at or before ``now`` (each once); they must be set() again."""
        out: list[bytes] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            if self._due.get(key) == due:  # skip superseded heap entries
                del self._due[key]
                out.append(key)
        self._compact()
        return out

    def _compact(self) -> None:
        if len(self._heap) > 4 * len(self._due) + 1024:  # drop superseded entries now and then
            self._heap = [(d, k) for k, d in self._due.items()]
            heapq.heapify(self._heap)

    def next_due(self) -> float | None:
        """The earliest deadline in the index (superseded heap entries are dropped on the way)."""
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def backlog(self, now: float) -> int:
        return sum(1 for d in self._due.values() if d <= now)

    def retain(self, keep: Callable[[bytes], bool]) -> None:
        """Forget every key for which ``keep`` is false (partitions this worker no longer owns)."""
        self._due = {k: d for k, d in self._due.items() if keep(k)}
        self._heap = [(d, k) for k, d in self._due.items()]
        heapq.heapify(self._heap)

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._due)
